//! A command's arguments, added to clap's tree only when clap (or roost) needs that command.
//!
//! clap's derive builds every command's every argument, with its help text, before it parses
//! anything: for roost's ~300 commands that is most of a short command's CPU time, paid again by
//! each monitor. Wrapped in [`Lazy`], a command's arguments are added with
//! [`clap::Command::defer`], which clap runs when it builds that command: parsing builds only the
//! command it enters. Help, errors, completion and the generated files need every command as the
//! derive makes it: they take the tree made inside [`eager`], where nothing is deferred.
//!
//! In the same way, [`Entered`] puts only the top-level command being run into the tree that
//! parses (clap copies every global flag into every top-level command it holds); a command line
//! that tree refuses is parsed again with the whole tree, whose errors and help name every command.
use std::cell::Cell;
use std::ops::{Deref, DerefMut};

use clap::{ArgMatches, Args, Command, FromArgMatches};

/// The arguments `T` of one command, deferred until the command is built.
#[derive(Debug, Clone)]
pub struct Lazy<T>(pub T);

impl<T> Deref for Lazy<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Lazy<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: FromArgMatches> FromArgMatches for Lazy<T> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(m).map(Lazy)
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }
}

fn augment<T: Args>(cmd: Command) -> Command {
    T::augment_args(cmd)
}

fn augment_for_update<T: Args>(cmd: Command) -> Command {
    T::augment_args_for_update(cmd)
}

thread_local! {
    static EAGER: Cell<bool> = const { Cell::new(false) };
}

/// Run `f` (which makes a command tree) with every [`Lazy`] part added at once.
pub fn eager<R>(f: impl FnOnce() -> R) -> R {
    EAGER.set(true);
    let r = f();
    EAGER.set(false);
    r
}

impl<T: Args> Args for Lazy<T> {
    fn augment_args(cmd: Command) -> Command {
        match EAGER.get() {
            true => T::augment_args(cmd),
            false => cmd.defer(augment::<T>),
        }
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        match EAGER.get() {
            true => T::augment_args_for_update(cmd),
            false => cmd.defer(augment_for_update::<T>),
        }
    }

    fn group_id() -> Option<clap::Id> {
        T::group_id()
    }
}

/// A copy of leaf command `cmd` with its deferred arguments added, for reading its arguments before
/// clap parses with the tree.
pub fn built(cmd: &Command) -> Command {
    let mut c = cmd.clone();
    c.build();
    c
}

thread_local! {
    static ENTERING: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Run `f` (which makes the command tree) with only the top-level command `name` in the tree, when
/// `name` is one (see [`Entered`]).
pub fn entering<R>(name: Option<&str>, f: impl FnOnce() -> R) -> R {
    ENTERING.set(name.map(str::to_string));
    let r = f();
    ENTERING.set(None);
    r
}

/// The top-level commands, of which only the one the command line enters is put in the tree while
/// [`entering`] names it. When clap builds the root it copies every global flag into every
/// top-level command: for roost's ~60 commands and 17 global flags, a thousand copies per process,
/// most of what clap still cost a command after [`Lazy`].
#[derive(Debug)]
pub struct Entered<T>(pub T);

/// `T`'s commands; only the one [`entering`] names, when it names one of them.
fn entered_subcommands(cmd: Command, all: fn(Command) -> Command) -> Command {
    let Some(name) = ENTERING.with_borrow(Clone::clone) else {
        return all(cmd);
    };
    let every = all(Command::new("every"));
    match every.find_subcommand(&name) {
        Some(one) => cmd.subcommand(one.clone()),
        None => all(cmd),
    }
}

impl<T: clap::Subcommand> clap::Subcommand for Entered<T> {
    fn augment_subcommands(cmd: Command) -> Command {
        entered_subcommands(cmd, T::augment_subcommands)
    }

    fn augment_subcommands_for_update(cmd: Command) -> Command {
        entered_subcommands(cmd, T::augment_subcommands_for_update)
    }

    fn has_subcommand(name: &str) -> bool {
        T::has_subcommand(name)
    }
}

impl<T: FromArgMatches> FromArgMatches for Entered<T> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(m).map(Entered)
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }
}

//! `login` and `logout`: check credentials against the registry, keep them in podman's auth.json.
use std::io::{BufRead, IsTerminal, Write};

use super::{LoginArgs, LogoutArgs};
use crate::cli::{ctx, out};
use crate::engine::{Ctx, EngineError};
use crate::error::Error;
use crate::registry::{Client, ClientOptions, Credentials};

/// Read a line from the terminal without echo.
pub(super) fn read_password_tty() -> Result<String, Error> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Error::Usage(
            "a password is needed and stdin is not a terminal: use --password-stdin".into(),
        ));
    }
    #[allow(clippy::print_stderr)]
    {
        eprint!("Password: ");
    }
    let _ = std::io::stderr().flush();
    let saved = tcgetattr(&stdin).map_err(|e| Error::io("read the terminal settings", e.into()))?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &quiet);
    let mut line = String::new();
    let r = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    #[allow(clippy::print_stderr)]
    {
        eprintln!();
    }
    r.map_err(|e| Error::io("read the password", e))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

fn read_line_prompt(prompt: &str) -> Result<String, Error> {
    #[allow(clippy::print_stderr)]
    {
        eprint!("{prompt}");
    }
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::io("read from stdin", e))?;
    Ok(line.trim().to_string())
}

/// The auth.json key for a `login` argument: a registry host, optionally with a repository path.
fn key(registry: &str) -> String {
    crate::registry::normalize_key(registry.trim_start_matches("docker://"))
}

pub fn login(ctx: &Ctx, args: &LoginArgs) -> Result<i32, Error> {
    let auth = ctx::with_authfile(ctx, args.authfile.as_ref());
    let key = key(&args.registry);
    let host = key.split('/').next().unwrap_or(&key).to_string();
    if args.get_login {
        let repo = key.split_once('/').map(|(_, r)| r).unwrap_or("");
        return match auth.lookup(&host, repo)? {
            Some(c) => out(&format!("{}\n", c.username)).map(|()| 0),
            None => Err(EngineError::NotLoggedIn(host).into()),
        };
    }
    if args.password.is_some() && args.password_stdin {
        return Err(Error::Usage(
            "--password and --password-stdin are mutually exclusive".into(),
        ));
    }
    let username = match &args.username {
        Some(u) => u.clone(),
        None if std::io::stdin().is_terminal() => read_line_prompt("Username: ")?,
        None => return Err(Error::Usage("a username is needed: use --username".into())),
    };
    let password = if args.password_stdin {
        let mut s = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut s)
            .map_err(|e| Error::io("read the password from stdin", e))?;
        s.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(p) = &args.password {
        p.clone()
    } else {
        read_password_tty()?
    };
    if username.is_empty() {
        return Err(Error::Usage("the username must not be empty".into()));
    }
    let creds = Credentials { username, password };
    let client = Client::new(ClientOptions {
        tls_verify: args.tls_verify,
        credentials: Some(creds.clone()),
        auth: auth.clone(),
        conf: ctx.registries.get()?.clone(),
        user_agent: format!("roost/{}", env!("CARGO_PKG_VERSION")),
        retries: 1,
        retry_delay: None,
        cert_dir: None,
        timeout: ctx.registry_timeout,
    })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("start the network runtime", e))?;
    rt.block_on(client.ping(&host))?;
    auth.store(&key, &creds)?;
    out("Login Succeeded!\n").map(|()| 0)
}

pub fn logout(ctx: &Ctx, args: &LogoutArgs) -> Result<i32, Error> {
    let auth = ctx::with_authfile(ctx, args.authfile.as_ref());
    if args.all {
        auth.remove_all()?;
        return out("Removed login credentials for all registries\n").map(|()| 0);
    }
    let registry = args.registry.as_deref().unwrap_or_default();
    let key = key(registry);
    if auth.remove(&key)? {
        out(&format!("Removed login credentials for {registry}\n")).map(|()| 0)
    } else {
        Err(EngineError::NotLoggedIn(registry.to_string()).into())
    }
}

/* roost's pod infra process (podman runs catatonit -P): hold the pod's namespaces and do nothing.
 * SIGTERM, SIGINT and SIGHUP end it (exit status 0); SIGCHLD is ignored, so the kernel reaps any child.
 * A static x86-64 executable with no libc: a few hundred bytes, a couple of pages of memory.
 * Rebuild: share/pause/build.sh (writes share/pause/pause-x86_64, which roost embeds). */
    .globl _start
    .text
_start:
    /* rt_sigaction(sig, &act, NULL, 8) for SIGHUP(1), SIGINT(2), SIGTERM(15) -> leave */
    lea act_exit(%rip), %rsi
    mov $1, %edi
    call sigact
    mov $2, %edi
    call sigact
    mov $15, %edi
    call sigact
    /* SIGCHLD(17) ignored: children are reaped by the kernel */
    lea act_ign(%rip), %rsi
    mov $17, %edi
    call sigact
1:  mov $34, %eax          /* pause() */
    syscall
    jmp 1b
sigact:
    xor %edx, %edx
    mov $8, %r10d
    mov $13, %eax          /* rt_sigaction */
    syscall
    ret
leave:
    xor %edi, %edi
    mov $231, %eax         /* exit_group(0) */
    syscall
    .data
    .align 8
act_exit:                  /* struct kernel_sigaction: handler, flags, restorer, mask */
    .quad leave
    .quad 0x04000000       /* SA_RESTORER (x86-64 wants one; the handler never returns) */
    .quad leave
    .quad 0
act_ign:
    .quad 1                /* SIG_IGN */
    .quad 0x04000000
    .quad leave
    .quad 0

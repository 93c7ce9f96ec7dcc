/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Trap entry stubs and the ring 0 <-> ring 3 switch.
 *
 * run_user() enters ring 3 with iretq after saving the callee-saved
 * registers and %rsp in the per-CPU block (%gs); the user function returns
 * into user_start, which raises SYS_EXIT_USER; the syscall stub then
 * restores that %rsp and returns from enter_user as if it were a call.
 */
#include "guest.h"

	.text
	.code64

/* Vectors that push an error code: 8, 10-14, 17, 21, 29, 30. */
	.set errmask, (1 << 8) | (0x1f << 10) | (1 << 17) | (1 << 21) | (1 << 29) | (1 << 30)

	.balign 16
	.globl isr_stubs
isr_stubs:
	.set vec, 0
	.rept 256
	.balign 16
	.if vec < 32
	.ifeq (errmask >> vec) & 1
	pushq $0
	.endif
	.else
	pushq $0
	.endif
	pushq $vec
	jmp isr_common
	.set vec, vec + 1
	.endr

isr_common:
	/* Save in the order of struct trap_frame (r15 lowest). */
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movl $0, %gs:PC_CPL
	cmpq $VEC_SYSCALL, 15*8(%rsp)
	jne 1f
	testb $3, 18*8(%rsp)		/* from ring 3? (saved %cs) */
	jz 1f
	cmpq $SYS_EXIT_USER, %rax
	je user_exit
1:	cld
	movq %rsp, %rdi
	call trap
	movl 18*8(%rsp), %eax		/* back to the ring of the saved %cs */
	andl $3, %eax
	movl %eax, %gs:PC_CPL
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp			/* vector, error code */
	iretq

/* The trap frame is dropped: we resume the kernel where enter_user left it. */
user_exit:
	movq %rdi, %rax
	movq %gs:PC_KRSP, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret

/* long enter_user(fn %rdi, arg %rsi, user_rsp %rdx) */
	.globl enter_user
enter_user:
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %gs:PC_KRSP
	movq %gs:PC_TSS, %rax
	movq %rsp, 4(%rax)		/* tss.rsp0: traps from ring 3 land below us */
	pushq $USER_DS
	pushq %rdx
	pushq $0x2			/* rflags: IF=0, IOPL=0 */
	pushq $USER_CS
	leaq user_start(%rip), %rax
	pushq %rax
	movl $3, %gs:PC_CPL
	iretq

/* Ring 3: %rdi = fn, %rsi = arg, on an empty 16-byte aligned stack. */
user_start:
	movq %rdi, %rax
	movq %rsi, %rdi
	xorl %ebp, %ebp
	call *%rax
	movq %rax, %rdi
	movl $SYS_EXIT_USER, %eax
	int $VEC_SYSCALL
	ud2

	.section .note.GNU-stack, "", @progbits

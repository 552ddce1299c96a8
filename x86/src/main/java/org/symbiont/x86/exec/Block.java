package org.symbiont.x86.exec;

import org.symbiont.x86.decode.Insn;

/**
 * A run of decoded instructions from one straight-line stretch of guest code: it ends at a
 * control transfer or other block-ending instruction, at a page boundary, or at
 * {@link #MAX_INSNS}. It is valid for the linear address, mode key and code generation of the
 * page(s) it was decoded from. This is the unit a later translator to JVM bytecode replaces.
 */
public final class Block {
    public static final int MAX_INSNS = 64;

    final long rip;
    final long linear;
    final int modeKey;
    final long hostStart;
    final long page, page2;
    final int generation, generation2;
    final Insn[] insns;
    final int count;
    /** The last instruction sets RIP itself (control transfer); otherwise RIP falls through. */
    final boolean endsWithJump;
    /**
     * The block ends with a near relative branch (Jcc, JMP, LOOPcc, JrCXZ) whose target is the
     * block's own start: a loop the interpreter may re-run without looking the block up again,
     * since such a branch changes neither interrupt state, mode nor mappings.
     */
    final boolean loopsToItself;

    Block(long rip, long linear, int modeKey, long hostStart, long page, int generation, long page2, int generation2,
          Insn[] insns, int count, boolean endsWithJump, boolean loopsToItself) {
        this.rip = rip;
        this.linear = linear;
        this.modeKey = modeKey;
        this.hostStart = hostStart;
        this.page = page;
        this.generation = generation;
        this.page2 = page2;
        this.generation2 = generation2;
        this.insns = insns;
        this.count = count;
        this.endsWithJump = endsWithJump;
        this.loopsToItself = loopsToItself;
    }
}

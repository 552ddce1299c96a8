package org.symbiont.x86.difftest;

import org.symbiont.x86.Cpu;

/**
 * One generated instruction: where it is, and what it does to the status flags for the purpose
 * of masking architecturally undefined results. The static view (read/written/undefined) is
 * conservative over every possible operand value; a {@link Dynamic} refines it from the actual
 * state before the instruction when the emulator runs the case one instruction at a time.
 */
final class Step {
    /** Exact effect of one execution, computed from the state before it. */
    interface Dynamic {
        void effect(Cpu before, Effect out);
    }

    /** Flags written (defined or not), flags left undefined, registers whose value is undefined. */
    static final class Effect {
        int written, undefined, taintedRegisters;
    }

    final int offset, length;
    final Family family;
    final int read, written, undefined;
    final Dynamic dynamic;
    /** Statically possibly-undefined status flags just before this instruction (widened for loop bodies). */
    int undefinedBefore;
    /**
     * The instruction stores several stack slots (ENTER): when it faults, processors may already
     * have written some of them (the SDM promises no atomicity), so memory below RSP is not compared.
     */
    boolean partialStackStoresOnFault;

    Step(int offset, int length, Family family, int read, int written, int undefined, Dynamic dynamic, int undefinedBefore) {
        this.offset = offset;
        this.length = length;
        this.family = family;
        this.read = read;
        this.written = written;
        this.undefined = undefined;
        this.dynamic = dynamic;
        this.undefinedBefore = undefinedBefore;
    }
}

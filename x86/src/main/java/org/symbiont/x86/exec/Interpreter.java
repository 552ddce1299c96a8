package org.symbiont.x86.exec;

import static org.symbiont.x86.Arch.*;

import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.decode.Decoder;
import org.symbiont.x86.decode.Insn;

/**
 * The execution loop: finds the block at RIP, runs its instructions, and handles what happens
 * at instruction boundaries (interrupts, interrupt shadows, single-step traps, exits, faults,
 * the instruction budget). Blocks run whole unless the budget, an interrupt shadow, TF or a
 * re-executed exit needs a single instruction.
 */
public final class Interpreter {
    private Interpreter() {}

    public static Exit run(Cpu c, long budget) {
        c.budgetEnd = c.retired + budget;
        if (c.redeliveryPending) {
            Exit e = Interrupts.redeliver(c);
            if (e != null) return e;
        }
        while (true) {
            boolean single = false;
            boolean trapAfter = false;
            boolean shadowed = false;
            if (c.replayLength > 0) {
                // Re-executing the instruction that exited: it runs alone, before anything else.
                single = true;
            } else {
                Exit e = atBoundary(c);
                if (e != null) return e;
                if (c.interruptShadow) {
                    single = true;
                    shadowed = true;
                }
                if ((c.rflags & TF) != 0) {
                    single = true;
                    trapAfter = true;
                }
            }
            long remaining = c.budgetEnd - c.retired;
            if (remaining <= 0) return Exit.BUDGET_EXHAUSTED;
            // The shadow covers exactly the next instruction, whichever run() executes it.
            if (shadowed) c.interruptShadow = false;
            // RF lasts until an instruction starts (SDM Vol. 3A 17.3.1.1); only IRET sets it, and
            // IRET ends its block, so clearing it as a block starts is enough.
            c.rflags &= ~RF;

            Block b;
            try {
                b = c.blocks.find(c);
            } catch (Fault f) {
                Exit e = deliver(c);
                if (e != null) return e;
                continue;
            } catch (ExitSignal x) {
                // Shadow or nested paging needs the VMM to fetch the first instruction.
                return c.takeExit();
            }
            int n = b.count;
            if (single) n = 1;
            else if (n > remaining) n = (int) remaining;

            Insn[] insns = b.insns;
            int k = 0;
            c.currentBlockPage = b.page;
            c.currentBlockPage2 = b.page2;
            c.stopBlock = false;
            int epoch = c.blocks.epoch;
            try {
                while (true) {
                    do {
                        execute(c, insns[k]);
                        k++;
                    } while (k < n && !c.stopBlock);
                    // A block that branched back to its own start runs again at once while the
                    // budget allows a whole pass and nothing invalidated it (see Block.loopsToItself).
                    if (!b.loopsToItself || single || c.stopBlock || k != b.count || c.rip != b.rip
                            || c.blocks.epoch != epoch || c.budgetEnd - c.retired - k < b.count) {
                        break;
                    }
                    c.retired += k;
                    k = 0;
                }
            } catch (Fault f) {
                c.retired += k;
                c.rip = insns[k].rip;
                c.replayLength = c.replayPosition = 0;
                Exit e = deliver(c);
                if (e != null) return e;
                continue;
            } catch (ExitSignal x) {
                c.retired += k;
                c.rip = insns[k].rip;
                return c.takeExit();
            }
            c.retired += k;
            if (k < b.count || !b.endsWithJump) c.rip = insns[k - 1].nextRip;
            if (c.replayLength > 0) c.replayLength = c.replayPosition = 0;
            if (c.trapFlagSampledAfter) {
                c.trapFlagSampledAfter = false;
                trapAfter = (c.rflags & TF) != 0;
            }
            // MOV SS and POP SS also hold back a single-step trap until after the next
            // instruction (SDM Vol. 3A, 6.8.3); the shadow they set makes that happen.
            if (trapAfter && !c.interruptShadow) {
                c.dr[6] |= 1L << 14; // DR6.BS
                c.retired++;
                Exit e = Interrupts.deliverTrap(c, EXC_DB);
                if (e != null) return e;
            }
        }
    }

    /**
     * Delivers the fault in flight. Each delivered event counts as one retired unit, so that a
     * guest stuck in a fault loop (a handler that faults again, forever, as hardware would
     * allow) still spends its budget and {@code run} returns.
     */
    private static Exit deliver(Cpu c) {
        c.retired++;
        return Interrupts.deliverException(c);
    }

    /** Interrupts and halts at an instruction boundary; returns an exit or null to go on. */
    private static Exit atBoundary(Cpu c) {
        if (c.nmiPending && !c.nmiBlocked && !c.interruptShadow) {
            c.nmiPending = false;
            c.nmiBlocked = true;
            c.halted = false;
            c.retired++;
            Exit e = Interrupts.deliverExternal(c, EXC_NMI);
            if (e != null) return e;
        }
        if (c.pendingVector >= 0 && (c.rflags & IF) != 0 && !c.interruptShadow) {
            int v = c.pendingVector;
            c.pendingVector = -1;
            c.halted = false;
            c.retired++;
            Exit e = Interrupts.deliverExternal(c, v);
            if (e != null) return e;
        }
        if (c.halted) return Exit.HALT;
        if (c.interruptWindowExiting && (c.rflags & IF) != 0 && !c.interruptShadow && c.pendingVector < 0) {
            return Exit.INTERRUPT_WINDOW;
        }
        return null;
    }

    // Hot-dispatch indexes (Insn.hot): the operations that dominate compiled code, run through
    // small handlers the JIT inlines here instead of through the family switches.
    static final int H_ARITH = 1, H_SHIFT = 2;
    static final int H_MOV_REG_TO_REG = 3, H_MOV_REG_FROM_REG = 4, H_MOV_LOAD = 5, H_MOV_STORE = 6;
    static final int H_MOV_IMM_TO_REG = 7, H_LEA = 8, H_MOVZX8 = 9, H_MOVZX16 = 10, H_MOVSX8 = 11;
    static final int H_MOVSX16 = 12, H_CMOV = 13, H_SETCC = 14;
    static final int H_JCC = 15, H_JMP_REL = 16, H_CALL_REL = 17, H_RET = 18;
    static final int H_PUSH_REG = 19, H_POP_REG = 20, H_MOV_IMM = 21;

    /** The hot-dispatch index of a decoded instruction (0: dispatch by family). */
    static int hotIndex(Insn i) {
        return switch (i.op >>> 8) {
            case Families.ARITH -> H_ARITH;
            case Families.SHIFT -> H_SHIFT;
            case Families.MOVE -> DataMove.hot(i);
            case Families.BRANCH -> ControlTransfer.hot(i);
            case Families.STACK -> StackOps.hot(i);
            default -> 0;
        };
    }

    /** Runs one decoded instruction. */
    public static void execute(Cpu c, Insn i) {
        switch (i.hot) {
            case H_ARITH -> Arith.exec(c, i);
            case H_SHIFT -> Shift.exec(c, i);
            case H_MOV_REG_TO_REG -> DataMove.movRegToReg(c, i);
            case H_MOV_REG_FROM_REG -> DataMove.movRegFromReg(c, i);
            case H_MOV_LOAD -> DataMove.movLoad(c, i);
            case H_MOV_STORE -> DataMove.movStore(c, i);
            case H_MOV_IMM_TO_REG -> DataMove.movImmToReg(c, i);
            case H_LEA -> DataMove.lea(c, i);
            case H_MOVZX8 -> DataMove.movzx8(c, i);
            case H_MOVZX16 -> DataMove.movzx16(c, i);
            case H_MOVSX8 -> DataMove.movsx8(c, i);
            case H_MOVSX16 -> DataMove.movsx16(c, i);
            case H_CMOV -> DataMove.cmov(c, i);
            case H_SETCC -> DataMove.setcc(c, i);
            case H_JCC -> ControlTransfer.jcc(c, i);
            case H_JMP_REL -> ControlTransfer.jump(c, i.imm);
            case H_CALL_REL -> ControlTransfer.callRel(c, i);
            case H_RET -> ControlTransfer.ret(c, i);
            case H_PUSH_REG -> StackOps.pushReg(c, i);
            case H_POP_REG -> StackOps.popReg(c, i);
            case H_MOV_IMM -> DataMove.movImm(c, i);
            default -> executeFamily(c, i);
        }
    }

    private static void executeFamily(Cpu c, Insn i) {
        switch (i.op >>> 8) {
            case Families.ARITH -> Arith.exec(c, i);
            case Families.MOVE -> DataMove.exec(c, i);
            case Families.BRANCH -> ControlTransfer.exec(c, i);
            case Families.STACK -> StackOps.exec(c, i);
            case Families.SHIFT -> Shift.exec(c, i);
            case Families.MULDIV -> MulDiv.exec(c, i);
            case Families.BITS -> BitOps.exec(c, i);
            case Families.STRING -> StringOps.exec(c, i);
            case Families.SYSTEM -> SystemOps.exec(c, i);
            case Families.FAR -> FarTransfer.exec(c, i);
            case Families.SSE_FLOAT -> SseFloat.exec(c, i);
            case Families.SSE_INT -> SseInteger.exec(c, i);
            case Families.SSE_MOVE -> SseMove.exec(c, i);
            case Families.FPU -> Fpu.exec(c, i);
            case Families.IO -> PortIo.exec(c, i);
            default -> decoderFault(c, i);
        }
    }

    private static void decoderFault(Cpu c, Insn i) {
        if (i.op == Decoder.OP_TOO_LONG) throw c.gp0();
        throw c.ud();
    }
}

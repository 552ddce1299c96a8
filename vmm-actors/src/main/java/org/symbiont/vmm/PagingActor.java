package org.symbiont.vmm;

import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.symbiont.vmm.config.VmConfig;
import org.symbiont.x86.Cpu;
import org.symbiont.x86.Exit;
import org.symbiont.x86.memory.PhysicalMemory;
import org.symbiont.x86.mmu.NestedPager;
import org.symbiont.x86.mmu.PagingCosts;
import org.symbiont.x86.mmu.PagingMode;
import org.symbiont.x86.mmu.ShadowPager;

/**
 * A VM's virtual paging: the VMM side of shadow and nested paging. The VM supervisor sends it
 * the paging exits of every vCPU (shadow faults, CR3 writes and INVLPG under shadow paging,
 * guest page-table writes under the cached strategy, nested faults); it updates the shadow tables
 * of that vCPU or the VM's nested table — injecting the guest's own #PF when the guest would have
 * faulted — and tells the vCPU to go on. The vCPU waits meanwhile, so its CPU state is this
 * actor's to touch until the answer.
 */
public final class PagingActor {
    private PagingActor() {}

    public sealed interface Command {}

    /** A paging exit of vCPU {@code vcpu}; answered to {@code replyTo} once handled. */
    public record Handle(int vcpu, Exit exit, ActorRef<VcpuActor.Command> replyTo) implements Command {}

    /** SwapBypass: the guest answered MEM_LOOKUP for shadow fault {@code h} on disk page {@code page}. */
    private record Looked(Handle h, long page, SymCallResult result) implements Command {}

    /**
     * A VM's pagers: the nested table (nested paging), or one shadow pager per vCPU (shadow
     * paging); neither under native paging.
     */
    public record Pagers(NestedPager nested, ShadowPager[] shadows) {}

    /** Sets the paging method and costs on every vCPU's MMU and attaches the VM's pagers to them. */
    public static Pagers virtualize(VmConfig.Paging paging, VmConfig.CostModel costs, List<Cpu> cpus, PhysicalMemory memory) {
        PagingCosts mmuCosts = new PagingCosts(costs.walkReference(), costs.tlbFlush());
        NestedPager nested = paging.mode() == PagingMode.NESTED ? new NestedPager(memory) : null;
        ShadowPager[] shadows = paging.mode() == PagingMode.SHADOW ? new ShadowPager[cpus.size()] : null;
        for (int k = 0; k < cpus.size(); k++) {
            Cpu cpu = cpus.get(k);
            cpu.mmu.configure(paging.mode(), paging.strategy(), mmuCosts);
            if (shadows != null) {
                shadows[k] = new ShadowPager(cpu, paging.strategy());
                cpu.mmu.attach(shadows[k]);
            } else if (nested != null) {
                cpu.mmu.attach(nested);
            }
        }
        return new Pagers(nested, shadows);
    }

    /**
     * The actor that serves the paging exits of {@code cpus} with {@code pagers}; {@code
     * swapBypass} (shadow paging, or null) serves shadow faults on guest swap entries.
     */
    public static Behavior<Command> create(Pagers pagers, List<Cpu> cpus, SwapBypass swapBypass) {
        NestedPager nested = pagers.nested();
        ShadowPager[] shadows = pagers.shadows();
        if (swapBypass != null) swapBypass.attach(shadows);
        return Behaviors.setup(ctx -> Behaviors.receive(Command.class)
                .onMessage(Handle.class, h -> {
                    Cpu cpu = cpus.get(h.vcpu());
                    switch (h.exit()) {
                        case Exit.ShadowFault f -> {
                            long pte = shadows[h.vcpu()].handleFault(f.linear(), f.access(), f.user());
                            long page = pte != 0 && swapBypass != null ? swapBypass.diskPage(pte) : -1;
                            if (page >= 0) {
                                // The vCPU runs the guest's MEM_LOOKUP while it waits for this answer (Palacios 6.11).
                                ctx.pipeToSelf(swapBypass.lookup(h.vcpu(), f.linear(), pte), (r, e) -> new Looked(h, page,
                                        r != null ? r : SymCallError.of(SymCallError.Reason.VM_STOPPED, String.valueOf(e))));
                                return Behaviors.same();
                            }
                        }
                        case Exit.ShadowCr3Write w -> shadows[h.vcpu()].cr3Written(w.cr3());
                        case Exit.ShadowInvlpg i -> shadows[h.vcpu()].invlpg(i.linear());
                        case Exit.ShadowPageTableWrite w -> shadows[h.vcpu()].pageTableWritten(w.guestPhysical(), w.size());
                        case Exit.PagingFault p -> nested.handleFault(cpu, p.guestPhysical(), p.access());
                        default -> throw new IllegalArgumentException("not a paging exit: " + h.exit());
                    }
                    h.replyTo().tell(new VcpuActor.PagingDone());
                    return Behaviors.same();
                })
                .onMessage(Looked.class, l -> {
                    swapBypass.answered(l.h().vcpu(), (Exit.ShadowFault) l.h().exit(), l.page(), l.result());
                    l.h().replyTo().tell(new VcpuActor.PagingDone());
                    return Behaviors.same();
                })
                .build());
    }
}

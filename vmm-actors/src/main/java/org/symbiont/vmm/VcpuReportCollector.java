package org.symbiont.vmm;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/** Asks every vCPU of a VM for its report and hands the set, ordered by vCPU, to one callback. */
final class VcpuReportCollector {
    private VcpuReportCollector() {}

    static Behavior<VcpuReport> create(List<ActorRef<VcpuActor.Command>> vcpus, Consumer<List<VcpuReport>> whenAll) {
        return Behaviors.setup(ctx -> {
            for (ActorRef<VcpuActor.Command> v : vcpus) v.tell(new VcpuActor.Inspect(ctx.getSelf()));
            List<VcpuReport> reports = new ArrayList<>();
            return Behaviors.receiveMessage(r -> {
                reports.add(r);
                if (reports.size() < vcpus.size()) return Behaviors.same();
                reports.sort(Comparator.comparingInt(VcpuReport::id));
                whenAll.accept(List.copyOf(reports));
                return Behaviors.stopped();
            });
        });
    }
}

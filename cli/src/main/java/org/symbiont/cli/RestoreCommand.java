package org.symbiont.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.typed.ActorSystem;
import org.symbiont.cluster.LiveMigration;
import org.symbiont.cluster.SymbiontCluster;
import org.symbiont.vmm.VmReport;
import org.symbiont.vmm.VmSnapshot;
import org.symbiont.vmm.VmSpec;
import org.symbiont.vmm.Vms;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code symbiont restore}: continues a VM that {@code symbiont snapshot} saved, as {@code run} runs one. */
@Command(name = "restore", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Continue a saved VM from its snapshot file, or (--incoming) receive a VM migrating live,",
                "on a machine built from the same options."},
        footer = {"", "Give the machine options the VM was started with: a snapshot of another machine is refused,",
                "naming the field that differs. Exit status: as for run.", ""})
final class RestoreCommand implements Callable<Integer> {
    @Parameters(paramLabel = "SNAPSHOT", arity = "0..1", description = "The snapshot file symbiont snapshot wrote.")
    Path file;

    @Option(names = "--incoming", paramLabel = "HOST:PORT",
            description = "Instead of a file: start a cluster member there and wait for the VM that symbiont run --migrate-to HOST:PORT sends.")
    String incoming;

    @Mixin
    MachineOptions machine = new MachineOptions();

    @Mixin
    RunEnd end = new RunEnd();

    @Override
    public Integer call() {
        if ((file == null) == (incoming == null)) throw new UserError("restore: give a SNAPSHOT file or --incoming HOST:PORT (one of them)");
        return end.conclude(file != null ? fromFile() : receive());
    }

    private VmReport fromFile() {
        VmSnapshot snapshot;
        try {
            snapshot = VmSnapshot.read(file);
        } catch (IOException e) {
            throw new UserError(e.getMessage());
        }
        return Vms.run(VmSpec.prepare(machine.configuration(), VmExtensions.forVm()), snapshot, end.limit());
    }

    /** A cluster member of its own at --incoming, which the sending member joins; it runs the VM once it arrived. */
    private VmReport receive() {
        String at;
        try {
            at = SymbiontCluster.checkHostPort(incoming);
        } catch (IllegalArgumentException e) {
            throw new UserError("--incoming " + incoming + ": expected HOST:PORT");
        }
        VmSpec spec = VmSpec.prepare(machine.configuration(), VmExtensions.forVm());
        int colon = at.lastIndexOf(':');
        ActorSystem<Void> member = SymbiontCluster.startMember(at.substring(0, colon), Integer.parseInt(at.substring(colon + 1)), List.of(at));
        try {
            CompletableFuture<VmReport> report = LiveMigration.accept(member, spec);
            System.err.println("symbiont restore: waiting for " + spec.config().name() + " on " + SymbiontCluster.address(member));
            try {
                return report.get(end.limit().toNanos(), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                throw new UserError("--incoming " + incoming + ": no VM arrived and ran to its end within " + end.timeout + " s");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new UserError("interrupted while waiting for " + spec.config().name());
            } catch (ExecutionException e) {
                throw new IllegalStateException(e.getCause());
            }
        } finally {
            SymbiontCluster.stop(member);
        }
    }
}

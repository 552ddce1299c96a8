package org.symbiont.cli;

import org.symbiont.vmm.boot.BootImageException;
import org.symbiont.vmm.config.VmConfigException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code symbiont} command. */
@Command(name = "symbiont", mixinStandardHelpOptions = true, version = "Symbiont 0.1.0",
        description = "A virtual machine monitor on actors, with symbiotic virtualization.",
        subcommands = {RunCommand.class, SnapshotCommand.class, RestoreCommand.class, FaultsCommand.class, DemoCommand.class, BenchCommand.class, ExperimentCommand.class, ClusterNodeCommand.class,
                CommandLine.HelpCommand.class})
public final class Main {
    public static void main(String[] args) {
        System.exit(execute(args));
    }

    static int execute(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (ex instanceof UserError || ex instanceof BootImageException || ex instanceof VmConfigException) {
                commandLine.getErr().println("symbiont: " + ex.getMessage());
                return 2;
            }
            if (ex instanceof ExperimentFailed) {
                commandLine.getErr().println("symbiont: " + ex.getMessage());
                return 1;
            }
            throw ex;
        });
        return cl.execute(args);
    }
}

package org.symbiont.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.symbiont.guests.GuestImages;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Experiments that reproduce the published findings Symbiont re-creates, each a table, a CSV and an SVG plot. */
@Command(name = "experiment", mixinStandardHelpOptions = true,
        description = "Run an experiment: paging (native, shadow and nested paging on single-address-space and context-switching guests), "
                + "swapbypass (guest swapping against SwapBypass against enough RAM), noise (OS noise at scale on a simulated cluster) "
                + "or scaling (HPCCG weak scaling, native against virtualized, on a simulated cluster).",
        subcommands = {ExperimentCommand.Paging.class, ExperimentCommand.SwapBypass.class, NoiseExperiment.class, ScalingExperiment.class})
final class ExperimentCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        throw new UserError("name an experiment: paging, swapbypass, noise or scaling (symbiont experiment --help)");
    }

    @Command(name = "paging", mixinStandardHelpOptions = true,
            description = "Native, shadow (vtlb, cached) and nested paging on HPCCG and GUPS, one address space and four processes.")
    static final class Paging implements Callable<Integer> {
        @Mixin
        OutAndScale options;

        @Override
        public Integer call() throws IOException {
            Path out = options.out;
            double scale = options.checkedScale();
            System.out.println("paging experiment: each workload shape under native, shadow (vtlb, cached) and nested paging;"
                    + " virtual time of the workload itself; one deterministic run per cell.");
            withLwkIn(out, kernel -> PagingExperiment.run(kernel, out, scale));
            return 0;
        }
    }

    @Command(name = "swapbypass", mixinStandardHelpOptions = true,
            description = "STREAM and GUPS with working sets from below to above guest RAM: guest swapping, SwapBypass, enough RAM.")
    static final class SwapBypass implements Callable<Integer> {
        @Mixin
        OutAndScale options;

        @Override
        public Integer call() throws IOException {
            Path out = options.out;
            double scale = options.checkedScale();
            System.out.println("swapbypass experiment: STREAM and GUPS with working sets from below to above guest RAM,"
                    + " guest swapping against SwapBypass against enough RAM; one deterministic run per cell.");
            withLwkIn(out, kernel -> SwapBypassExperiment.run(kernel, out, scale));
            return 0;
        }
    }

    /** The options of the experiments on one machine. */
    static final class OutAndScale {
        @Option(names = "--out", description = "Directory for the CSV and SVG files (default: ${DEFAULT-VALUE}).", defaultValue = "results")
        Path out;

        @Option(names = "--scale", description = "Multiply the workloads' sizes by this factor (default: ${DEFAULT-VALUE}).", defaultValue = "1")
        double scale;

        double checkedScale() {
            if (scale < 0.01 || scale > 100) throw new UserError("--scale must be between 0.01 and 100, got " + scale);
            return scale;
        }
    }

    private interface Experiment {
        void run(Path kernel) throws IOException;
    }

    /**
     * Runs {@code experiment} with the LWK image written to {@code outDir}/lwk.bin: the kernel's
     * path is the first word of its command line, so a fixed one keeps runs identical.
     */
    private static void withLwkIn(Path outDir, Experiment experiment) throws IOException {
        Files.createDirectories(outDir);
        Path kernel = outDir.resolve("lwk.bin");
        Files.write(kernel, GuestImages.lwk());
        try {
            experiment.run(kernel);
        } finally {
            Files.deleteIfExists(kernel);
        }
    }
}

package org.symbiont.vmm;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.symbiont.guests.GuestImages;
import org.symbiont.guests.LwkCase;
import org.symbiont.vmm.config.VmConfig;
import org.symbiont.x86.Seeds;
import org.symbiont.x86.snapshot.SnapshotException;
import org.symbiont.x86.snapshot.SnapshotFormat;

/**
 * Malformed whole-VM snapshots: two real snapshots (an LWK guest on one vCPU paused part way,
 * one on two vCPUs) mutated by random byte flips anywhere (mostly caught by the checksums), flips
 * and hostile field values inside one section with its checksum recomputed (so the section's own
 * reader sees them), truncated files and section bodies, sections deleted, duplicated, reordered,
 * renamed or taken from the other snapshot, huge length fields and broken headers. Each input is
 * read with {@link VmSnapshot#fromBytes}, which either refuses it with a {@link SnapshotException}
 * that says what is wrong or accepts it; the first accepted ones are restored with
 * {@link Vms#run(VmSpec, VmSnapshot, Duration)}, which must end with a CONFIG_ERROR saying the
 * snapshot cannot be restored and why, or with the guest running on to a guest-level end (exit,
 * triple fault, halt, or stopped at the time limit when it loops): never an exception out of the
 * VMM, VMM_ERROR, or a run that does not return. Inputs: system property
 * {@code symbiont.hostile.snapshots} (restored: up to a quarter of them), seed {@code symbiont.hostile.seed};
 * {@code symbiont.hostile.verbose} prints each input's outcome.
 */
class SnapshotFuzzTest {
    private static final int CASES = Integer.getInteger("symbiont.hostile.snapshots", 400);
    private static final int RESTORES = Math.max(1, CASES / 4);
    private static final long SEED = Seeds.parse(System.getProperty("symbiont.hostile.seed", "0x5EEDF022"));
    /** A restored VM still running after this much wall time is stopped: a guest looping on a mutated state. */
    private static final Duration RUN_LIMIT = Duration.ofSeconds(2);
    /** Hang detector only: {@link Vms#run} not returning within it is a VMM hang. */
    private static final Duration HARD_LIMIT = Duration.ofSeconds(40);
    /** Prints every input's outcome (system property {@code symbiont.hostile.verbose}). */
    private static final boolean VERBOSE = Boolean.getBoolean("symbiont.hostile.verbose");

    @TempDir
    static Path dir;

    /** One snapshot to mutate and the configuration it restores into. */
    private record Source(String name, VmConfig config, List<SnapshotFormat.Section> sections) {}

    private enum Mutation {
        RAW_FLIPS, BODY_FLIPS, FIELD_VALUE, TRUNCATE_FILE, RESIZE_BODY, DELETE_SECTION, DUPLICATE_SECTION, REORDER,
        RENAME_SECTION, FOREIGN_SECTION, HUGE_LENGTH, HEADER
    }

    private static final Mutation[] BODY_LEVEL = {Mutation.BODY_FLIPS, Mutation.FIELD_VALUE, Mutation.RESIZE_BODY, Mutation.FOREIGN_SECTION};

    private static VmConfig lwk(Path kernel, String caseName) {
        LwkCase c = LwkCase.named(caseName);
        return VmRun.pcConfig(caseName, kernel, "memory = " + c.memoryMiB() + "M\ncpus = " + c.cpus()
                + "\nconsole = null\nkernel.append = \"" + c.cmdline(0) + "\"\n");
    }

    private static Source take(VmConfig config, long pauseAt) {
        try (Vms.Running vm = Vms.start(VmSpec.prepare(config, Extensions.none(), new CharBackends.Capture()))) {
            vm.pauseAt(pauseAt, Duration.ofMinutes(1));
            return new Source(config.name(), config, vm.snapshot(Duration.ofMinutes(1)).sections());
        }
    }

    private static List<Source> sources;

    @BeforeAll
    static void takeSnapshots() throws IOException {
        Path kernel = dir.resolve("lwk.bin");
        Files.write(kernel, GuestImages.lwk());
        sources = List.of(take(lwk(kernel, "hello"), 1_000_000), take(lwk(kernel, "smp2"), 0));
    }

    private static Source source(String name) {
        return sources.stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }

    /** A restore of {@code sections} into {@code source}'s machine. */
    private static VmReport restore(Source source, List<SnapshotFormat.Section> sections) throws SnapshotException {
        return Vms.run(VmSpec.prepare(source.config(), Extensions.none(), new CharBackends.Capture()),
                VmSnapshot.fromBytes(encode(sections)), Duration.ofMinutes(1));
    }

    @Test
    void aDeviceStateWhoseTimersDisagreeWithTheSavedTimerQueueIsRefusedAsAConfigurationError() throws SnapshotException {
        // Found by the campaign: the serial port's state of one VM put into another's snapshot (its pending
        // transmit timer is not in that VM's timer queue, or the other way round) ended the restored VM
        // with VMM_ERROR, not the CONFIG_ERROR of a snapshot that cannot be restored.
        Source hello = source("hello"), smp2 = source("smp2");
        for (Source[] pair : new Source[][] {{smp2, hello}, {hello, smp2}}) {
            List<SnapshotFormat.Section> sections = new ArrayList<>(pair[0].sections());
            int at = indexOf(sections, "device.com1");
            sections.set(at, pair[1].sections().get(indexOf(pair[1].sections(), "device.com1")));
            VmReport r = restore(pair[0], sections);
            assertEquals(VmReport.Reason.CONFIG_ERROR, r.reason(), r.message());
            assertTrue(r.message().contains("cannot restore the snapshot") && r.message().contains("com1")
                    && r.message().contains("timer"), r.message());
        }
    }

    @Test
    void malformedSnapshotsAreRefusedWithAClearErrorAndNeverCrashOrHangTheVmm() throws IOException, InterruptedException {
        // The unmutated snapshots restore and run: the campaign starts from something that works.
        for (Source s : sources) {
            VmReport r = restore(s, s.sections());
            assertEquals(VmReport.Reason.GUEST_EXIT, r.reason(), s.name() + ": " + r.message());
        }

        SplittableRandom seeds = new SplittableRandom(SEED);
        ExecutorService runner = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "snapshot-fuzz-run");
            t.setDaemon(true);
            return t;
        });
        int rejectedByReader = 0, rejectedAtRestore = 0, ran = 0, stopped = 0, notRestored = 0, crashes = 0, hangs = 0;
        int[] byMutation = new int[Mutation.values().length];
        int[] reasons = new int[VmReport.Reason.values().length];
        List<String> firstFailures = new ArrayList<>();
        for (int k = 0; k < CASES; k++) {
            long seed = seeds.nextLong();
            SplittableRandom r = new SplittableRandom(seed);
            Source source = sources.get(r.nextInt(sources.size()));
            Source other = sources.get(1 - sources.indexOf(source));
            // Half the inputs change a section's body under a correct checksum: those reach the sections' own readers.
            Mutation mutation = r.nextBoolean() ? BODY_LEVEL[r.nextInt(BODY_LEVEL.length)] : Mutation.values()[r.nextInt(Mutation.values().length)];
            byMutation[mutation.ordinal()]++;
            StringBuilder what = new StringBuilder();
            byte[] input = mutate(mutation, source, other, r, what);
            String label = String.format("seed %#x %s of %s: %s", seed, mutation, source.name(), what);
            VmSnapshot snapshot;
            try {
                snapshot = VmSnapshot.fromBytes(input);
            } catch (SnapshotException e) {
                rejectedByReader++;
                if (VERBOSE) System.out.println("READER " + label + "\n    " + e.getMessage());
                if (e.getMessage() == null || e.getMessage().isBlank()) {
                    crashes++;
                    if (firstFailures.size() < 10) firstFailures.add(label + ": refused without a message: " + e);
                }
                continue;
            } catch (RuntimeException | Error e) {
                crashes++;
                if (firstFailures.size() < 10) firstFailures.add(label + ": the reader threw " + e);
                continue;
            }
            if (ran + stopped + rejectedAtRestore + crashes + hangs >= RESTORES) {
                notRestored++;
                continue;
            }
            VmSpec spec = VmSpec.prepare(source.config(), Extensions.none(), new CharBackends.Capture());
            Future<VmReport> run = runner.submit(() -> Vms.run(spec, snapshot, RUN_LIMIT));
            VmReport report;
            try {
                report = run.get(HARD_LIMIT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                hangs++;
                run.cancel(true);
                if (firstFailures.size() < 10) firstFailures.add(label + ": Vms.run did not return within " + HARD_LIMIT);
                continue;
            } catch (java.util.concurrent.ExecutionException e) {
                crashes++;
                if (firstFailures.size() < 10) firstFailures.add(label + ": the restore threw " + e.getCause());
                continue;
            }
            reasons[report.reason().ordinal()]++;
            String message = report.message() == null ? "" : report.message();
            if (VERBOSE) System.out.println("RESTORE " + label + "\n    " + report.reason() + ": " + message.lines().findFirst().orElse(""));
            switch (report.reason()) {
                case GUEST_EXIT, TRIPLE_FAULT, HALTED -> ran++;
                case STOPPED -> stopped++;
                case CONFIG_ERROR -> {
                    // A refusal says the snapshot cannot be restored and what in it is wrong; anything else is the VMM failing.
                    if (message.contains("cannot restore the snapshot")) {
                        rejectedAtRestore++;
                    } else {
                        crashes++;
                        if (firstFailures.size() < 10) firstFailures.add(label + ": " + report.reason() + ": " + message);
                    }
                }
                default -> {
                    crashes++;
                    if (firstFailures.size() < 10) firstFailures.add(label + ": " + report.reason() + ": " + message);
                }
            }
        }
        runner.shutdownNow();
        StringBuilder mutations = new StringBuilder();
        for (Mutation m : Mutation.values()) mutations.append(' ').append(m.name().toLowerCase()).append(' ').append(byMutation[m.ordinal()]);
        StringBuilder outcomes = new StringBuilder();
        for (VmReport.Reason reason : VmReport.Reason.values()) {
            if (reasons[reason.ordinal()] > 0) outcomes.append(' ').append(reason.name().toLowerCase()).append(' ').append(reasons[reason.ordinal()]);
        }
        System.out.printf("FUZZ snapshots: %d inputs, %d crashes, %d hangs (%d refused by the reader, %d refused at restore, "
                        + "%d ran to a guest-level end, %d stopped looping at the time limit, %d accepted but not restored;"
                        + " restores:%s; mutations:%s)%n",
                CASES, crashes, hangs, rejectedByReader, rejectedAtRestore, ran, stopped, notRestored, outcomes, mutations);
        assertEquals(List.of(), firstFailures, crashes + " crashes, " + hangs + " hangs");
        assertEquals(CASES, rejectedByReader + rejectedAtRestore + ran + stopped + notRestored);
        assertTrue(rejectedByReader > CASES / 10 && rejectedAtRestore > 0 && ran + stopped > 0,
                "the inputs reach every outcome: " + rejectedByReader + " refused by the reader, " + rejectedAtRestore
                        + " at restore, " + (ran + stopped) + " ran");
    }

    // ---- mutations ----

    private static byte[] mutate(Mutation mutation, Source source, Source other, SplittableRandom r, StringBuilder what) {
        List<SnapshotFormat.Section> sections = new ArrayList<>(source.sections());
        int pick = r.nextInt(sections.size());
        SnapshotFormat.Section chosen = sections.get(pick);
        switch (mutation) {
            case RAW_FLIPS -> {
                byte[] data = encode(sections);
                for (int n = r.nextInt(1, 9); n > 0; n--) {
                    int at = r.nextInt(data.length);
                    int bit = r.nextInt(8);
                    data[at] ^= (byte) (1 << bit);
                    what.append(" bit ").append(bit).append(" at ").append(at);
                }
                return data;
            }
            case BODY_FLIPS -> {
                byte[] body = chosen.body().clone();
                what.append(chosen.name());
                if (body.length > 0) {
                    for (int n = r.nextInt(1, 5); n > 0; n--) {
                        int at = r.nextInt(body.length);
                        body[at] ^= (byte) r.nextInt(1, 256);
                        what.append(" @").append(at);
                    }
                }
                sections.set(pick, new SnapshotFormat.Section(chosen.name(), body));
            }
            case FIELD_VALUE -> {
                // A hostile value over an integer field: counts, lengths, indices, enums.
                byte[] body = chosen.body().clone();
                int width = new int[] {1, 2, 4, 8}[r.nextInt(4)];
                long[] values = {0, 1, -1, 2, 255, 0x7fff, 0xffff, Integer.MAX_VALUE, Integer.MIN_VALUE, 0xffffffffL,
                    Long.MAX_VALUE, Long.MIN_VALUE, 1L << 32, 1L << 40, 4096, 65536, r.nextLong()};
                long value = values[r.nextInt(values.length)];
                // Fields cluster at the start of a section: aim there most of the time.
                int limit = Math.max(1, body.length - width + 1);
                int at = r.nextBoolean() ? r.nextInt(Math.min(limit, 64)) : r.nextInt(limit);
                for (int b = 0; b < width && at + b < body.length; b++) body[at + b] = (byte) (value >>> (8 * b));
                what.append(chosen.name()).append(" @").append(at).append(" = ").append(value).append(" (").append(width).append(" bytes)");
                sections.set(pick, new SnapshotFormat.Section(chosen.name(), body));
            }
            case TRUNCATE_FILE -> {
                byte[] data = encode(sections);
                int length = r.nextBoolean() ? r.nextInt(64) : r.nextInt(data.length);
                what.append(length).append(" of ").append(data.length).append(" bytes");
                return java.util.Arrays.copyOf(data, length);
            }
            case RESIZE_BODY -> {
                byte[] body = chosen.body();
                int length = r.nextInt(4) == 0 ? body.length + r.nextInt(1, 17) : r.nextInt(body.length + 1);
                what.append(chosen.name()).append(" to ").append(length).append(" of ").append(body.length).append(" bytes");
                sections.set(pick, new SnapshotFormat.Section(chosen.name(), java.util.Arrays.copyOf(body, length)));
            }
            case DELETE_SECTION -> {
                what.append(chosen.name());
                sections.remove(pick);
            }
            case DUPLICATE_SECTION -> {
                what.append(chosen.name());
                sections.add(r.nextInt(sections.size() + 1), chosen);
            }
            case REORDER -> {
                for (int k = sections.size() - 1; k > 0; k--) {
                    int j = r.nextInt(k + 1);
                    SnapshotFormat.Section t = sections.get(k);
                    sections.set(k, sections.get(j));
                    sections.set(j, t);
                }
                what.append(sections.stream().map(SnapshotFormat.Section::name).toList());
            }
            case RENAME_SECTION -> {
                String[] names = {"cpu.7", "vcpu.9", "cpu.-1", "device.nothing", "device.", "paging.nested", "memory.delta",
                    "vm.config2", "cpu.0", "vcpu.1", "device.com1", "x", "memory"};
                String name = names[r.nextInt(names.length)];
                what.append(chosen.name()).append(" as ").append(name);
                sections.set(pick, new SnapshotFormat.Section(name, chosen.body()));
            }
            case FOREIGN_SECTION -> {
                // A section of the same name from the other snapshot (another machine), or another's body under this name.
                SnapshotFormat.Section foreign = other.sections().get(r.nextInt(other.sections().size()));
                if (r.nextBoolean()) {
                    int at = indexOf(sections, foreign.name());
                    what.append(foreign.name()).append(" of ").append(other.name());
                    if (at >= 0) sections.set(at, foreign);
                    else sections.add(foreign);
                } else {
                    what.append(chosen.name()).append(" with the body of ").append(foreign.name()).append(" of ").append(other.name());
                    sections.set(pick, new SnapshotFormat.Section(chosen.name(), foreign.body()));
                }
            }
            case HUGE_LENGTH -> {
                byte[] data = encode(sections);
                int at = 16;
                for (int k = 0; k < pick; k++) at += headerBytes(sections.get(k)) + sections.get(k).body().length;
                at += 2 + chosen.name().getBytes(StandardCharsets.UTF_8).length;
                long[] lengths = {-1, Long.MAX_VALUE, Integer.MAX_VALUE, 1L << 32, chosen.body().length + 1L, data.length};
                long length = lengths[r.nextInt(lengths.length)];
                ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).putLong(at, length);
                what.append(chosen.name()).append(" length ").append(Long.toUnsignedString(length));
                return data;
            }
            case HEADER -> {
                byte[] data = encode(sections);
                ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
                switch (r.nextInt(4)) {
                    case 0 -> { data[r.nextInt(8)] ^= (byte) r.nextInt(1, 256); what.append("magic"); }
                    case 1 -> { int v = new int[] {0, 2, -1, 0x10001}[r.nextInt(4)]; b.putInt(8, v); what.append("version ").append(v); }
                    case 2 -> {
                        int v = new int[] {0, 1, sections.size() - 1, sections.size() + 1, -1, Integer.MAX_VALUE}[r.nextInt(6)];
                        b.putInt(12, v);
                        what.append("section count ").append(v);
                    }
                    default -> {
                        int n = r.nextInt(1, 100);
                        data = java.util.Arrays.copyOf(data, data.length + n);
                        what.append(n).append(" bytes appended");
                    }
                }
                return data;
            }
        }
        return encode(sections);
    }

    private static int indexOf(List<SnapshotFormat.Section> sections, String name) {
        for (int k = 0; k < sections.size(); k++) if (sections.get(k).name().equals(name)) return k;
        return -1;
    }

    private static int headerBytes(SnapshotFormat.Section s) {
        return 2 + s.name().getBytes(StandardCharsets.UTF_8).length + 8 + 4;
    }

    /**
     * Sections in {@link SnapshotFormat}'s layout with correct checksums; unlike {@link SnapshotFormat#toBytes}
     * it writes a section given twice, as a hostile file may hold one.
     */
    private static byte[] encode(List<SnapshotFormat.Section> sections) {
        int size = 16;
        for (SnapshotFormat.Section s : sections) size += headerBytes(s) + s.body().length;
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.put(SnapshotFormat.MAGIC).putInt(SnapshotFormat.VERSION).putInt(sections.size());
        for (SnapshotFormat.Section s : sections) {
            byte[] name = s.name().getBytes(StandardCharsets.UTF_8);
            long length = s.body().length;
            CRC32C crc = new CRC32C();
            crc.update(name);
            for (int shift = 0; shift < 64; shift += 8) crc.update((int) (length >>> shift));
            crc.update(s.body());
            b.putShort((short) name.length).put(name).putLong(length).putInt((int) crc.getValue()).put(s.body());
        }
        return b.array();
    }
}

package org.symbiont.vmm;

import com.typesafe.config.ConfigRenderOptions;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.symbiont.vmm.boot.MultibootImage;
import org.symbiont.vmm.boot.MultibootLoader;
import org.symbiont.vmm.config.VmConfig;
import org.symbiont.x86.snapshot.MemoryImage;
import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;
import org.symbiont.x86.snapshot.SnapshotFormat;

/**
 * A paused VM saved whole: the state of every vCPU, guest memory, every device, the VMM's timers
 * and virtual time, in {@link SnapshotFormat}'s checksummed sections. As with QEMU's {@code
 * -loadvm} and {@code -incoming}, the machine is rebuilt from the same configuration and kernel
 * before its state is put back: the snapshot records what it was taken with ({@link #CONFIG}) and
 * a restore with anything else is refused, naming the field that differs. Disk images backed by
 * files stay in their files; memory-backed disks are part of guest memory.
 */
public record VmSnapshot(List<SnapshotFormat.Section> sections) {
    /** The section recording what the machine was built from. */
    static final String CONFIG = "vm.config";
    /** The supervisor's section: virtual time, scheduling, timers, faults, the devices' clocks. */
    static final String SUPERVISOR = "vm";
    /** Sections of the VM's extensions' state ({@link Extensions.StateHook}) are named this and the extension. */
    static final String EXTENSION = "ext.";

    public VmSnapshot {
        sections = List.copyOf(sections);
    }

    /** The snapshot's size in bytes as a file. */
    public long sizeBytes() {
        return SnapshotFormat.size(sections);
    }

    public void write(Path file) throws IOException {
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20)) {
            SnapshotFormat.write(out, sections);
        }
    }

    /** Reads a snapshot file: a malformed or truncated one is a {@link SnapshotException} naming the file and what is wrong. */
    public static VmSnapshot read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new SnapshotException(file + ": no such snapshot file");
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 20)) {
            return of(SnapshotFormat.read(in, Files.size(file), VmSnapshot::known));
        } catch (SnapshotException e) {
            throw new SnapshotException(file + ": " + e.getMessage());
        }
    }

    /** A snapshot from its bytes (as {@link SnapshotFormat#toBytes} wrote them). */
    public static VmSnapshot fromBytes(byte[] data) throws SnapshotException {
        return of(SnapshotFormat.read(data, VmSnapshot::known));
    }

    public byte[] toBytes() {
        return SnapshotFormat.toBytes(sections);
    }

    private static VmSnapshot of(SnapshotFormat.Contents contents) throws SnapshotException {
        contents.require(CONFIG);
        contents.require(SUPERVISOR);
        return new VmSnapshot(contents.sections().entrySet().stream()
                .map(e -> new SnapshotFormat.Section(e.getKey(), e.getValue())).toList());
    }

    /** The sections a VM snapshot may hold; anything else is refused as not from this VMM. */
    private static boolean known(String name) {
        return name.equals(CONFIG) || name.equals(SUPERVISOR) || name.equals(MemoryImage.SECTION) || name.startsWith(MemoryImage.SECTION + ".")
                || name.startsWith("cpu.")
                || name.startsWith("vcpu.") || name.startsWith("device.") || name.startsWith("paging.") || name.startsWith(EXTENSION);
    }

    /** The body of section {@code name}, or null. */
    byte[] section(String name) {
        for (SnapshotFormat.Section s : sections) if (s.name().equals(name)) return s.body();
        return null;
    }

    /** The body of section {@code name}; a snapshot without it is malformed. */
    byte[] require(String name) throws SnapshotException {
        byte[] body = section(name);
        if (body == null) throw new SnapshotException("the snapshot has no section '" + name + "'");
        return body;
    }

    /** The virtual time the VM was paused at, in nanoseconds. */
    public long virtualNanos() throws SnapshotException {
        return new SectionReader(SUPERVISOR, require(SUPERVISOR)).i64("virtual time");
    }

    // ---- what the machine is built from ----

    /**
     * Device parameters that name where a device's data goes rather than what the device is: a
     * character device's back end, a disk's image file (copied elsewhere for a cold migration), a
     * NIC's link. A restore may give others, as it may another console.
     */
    private static final List<String> BACKENDS = List.of("chardev", "file", "link");

    /**
     * What a VM is built from, field by field: everything that shapes the machine or its timing
     * (not its name, console, devices' back ends or disk contents), and a digest of the kernel and
     * modules.
     */
    static Map<String, String> machineOf(VmSpec spec) {
        VmConfig c = spec.config();
        Map<String, String> m = new LinkedHashMap<>();
        m.put("memory", Long.toString(c.memoryBytes()));
        m.put("cpus", Integer.toString(c.cpus()));
        m.put("cpu-model", c.cpuModelName());
        m.put("mode", c.mode().name());
        m.put("seed", Long.toString(c.seed()));
        m.put("quantum", Long.toString(c.quantum()));
        m.put("cycles-per-instruction", Long.toString(c.cyclesPerInstruction()));
        m.put("cost-model", c.costs().toString());
        m.put("paging", c.paging().toString());
        m.put("symbiotic", c.symbiotic().toString());
        m.put("noise", c.noise().toString());
        m.put("faults", c.faults().toString());
        for (VmConfig.DeviceSpec d : c.devices()) {
            com.typesafe.config.Config params = d.params();
            for (String backend : BACKENDS) params = params.withoutPath(backend);
            m.put("devices." + d.name(), params.root().render(ConfigRenderOptions.concise()));
        }
        m.put("kernel.append", c.kernel() == null ? "" : c.kernel().append());
        m.put("kernel image (SHA-256)", digest(spec.kernel(), spec.modules()));
        return m;
    }

    static byte[] encodeMachine(Map<String, String> machine) {
        SectionWriter out = new SectionWriter().i32(machine.size());
        machine.forEach((k, v) -> out.string(k).string(v));
        return out.toByteArray();
    }

    /** Refuses to restore into a machine built differently from the one saved, naming the first field that differs. */
    static void checkMachine(byte[] saved, Map<String, String> current) throws SnapshotException {
        SectionReader in = new SectionReader(CONFIG, saved);
        int count = in.i32In(0, 1 << 16, "field count");
        Map<String, String> was = new LinkedHashMap<>();
        for (int k = 0; k < count; k++) was.put(in.string("field name"), in.string("field value"));
        in.end();
        for (Map.Entry<String, String> e : was.entrySet()) {
            String now = current.get(e.getKey());
            if (now == null) {
                throw new SnapshotException("the snapshot was taken of a VM with " + e.getKey() + " = " + e.getValue()
                        + ", which this configuration does not have");
            }
            if (!now.equals(e.getValue())) {
                throw new SnapshotException("the snapshot was taken with " + e.getKey() + " = " + e.getValue()
                        + ", this configuration gives " + now + ": restore with the configuration and kernel it was taken with");
            }
        }
        for (String key : current.keySet()) {
            if (!was.containsKey(key)) {
                throw new SnapshotException("this configuration has " + key + ", which the VM the snapshot was taken of did not have");
            }
        }
    }

    private static String digest(MultibootImage kernel, List<MultibootLoader.Module> modules) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            SectionWriter w = new SectionWriter().i64(kernel.entry());
            for (MultibootImage.Segment s : kernel.segments()) w.i64(s.address()).i64(s.bytes().length).i64(s.zeroFill());
            sha.update(w.toByteArray());
            for (MultibootImage.Segment s : kernel.segments()) sha.update(s.bytes());
            for (MultibootLoader.Module m : modules) {
                sha.update(m.commandLine().getBytes(StandardCharsets.UTF_8));
                sha.update(m.contents());
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}

package org.symbiont.devices;

import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * A device's snapshot section: {@code device.<name>}, whose body is the u32 state version of
 * the model followed by what its {@link Snapshottable#saveState} wrote. A device that is not
 * {@link Snapshottable} is refused on save and restore, never saved as nothing.
 */
public final class DeviceState {
    private DeviceState() {}

    public static String sectionName(Device device) {
        return "device." + device.name();
    }

    /** The section body for {@code device}'s current state. */
    public static byte[] save(Device device) {
        Snapshottable model = snapshottable(device);
        SectionWriter out = new SectionWriter();
        out.i32(model.stateVersion());
        model.saveState(out);
        return out.toByteArray();
    }

    /** Restores {@code device}, freshly constructed with the saved device's configuration, from {@code body}. */
    public static void restore(Device device, byte[] body) throws SnapshotException {
        Snapshottable model;
        try {
            model = snapshottable(device);
        } catch (UnsupportedOperationException e) {
            throw new SnapshotException(e.getMessage());
        }
        SectionReader in = new SectionReader(describe(device), body);
        int at = in.position();
        int version = in.i32("state version");
        if (version != model.stateVersion()) {
            throw in.malformed(at, "state version", "is " + Integer.toUnsignedString(version)
                    + ", this build reads version " + model.stateVersion());
        }
        model.restoreState(in);
        in.end();
    }

    private static Snapshottable snapshottable(Device device) {
        if (device instanceof Snapshottable s) return s;
        throw new UnsupportedOperationException(describe(device).replace("state of ", "") + " is not snapshottable yet");
    }

    private static String describe(Device device) {
        return "state of device '" + device.name() + "' (" + device.getClass().getSimpleName() + ")";
    }

    /** Writes whether {@code timer} is armed and, if so, its deadline. */
    public static void writeTimer(SectionWriter out, VirtualTimer timer) {
        out.bool(timer != null);
        if (timer != null) out.i64(timer.deadline());
    }

    /**
     * Reads what {@link #writeTimer} wrote and re-arms the timer at its saved deadline with
     * {@code context}, returning it, or null when it was not armed.
     */
    public static VirtualTimer readTimer(SectionReader in, String field, DeviceContext context, Runnable action)
            throws SnapshotException {
        if (!in.bool(field + " armed")) return null;
        return context.schedule(in.i64(field + " deadline"), action);
    }

    /** A u8 that must lie in {@code [min, max]}. */
    public static int u8In(SectionReader in, int min, int max, String field) throws SnapshotException {
        int at = in.position();
        int v = in.u8(field);
        if (v < min || v > max) throw in.malformed(at, field, "is " + v + ", outside [" + min + ", " + max + "]");
        return v;
    }
}

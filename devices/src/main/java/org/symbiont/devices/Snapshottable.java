package org.symbiont.devices;

import org.symbiont.x86.snapshot.SectionReader;
import org.symbiont.x86.snapshot.SectionWriter;
import org.symbiont.x86.snapshot.SnapshotException;

/**
 * A device model whose complete state can be saved and restored (see {@link DeviceState}, which
 * frames it with the device's state version).
 *
 * <p>The state is every field the model's future behaviour depends on, written explicitly with
 * the snapshot encoding: registers, buffers, the virtual-time deadlines of the timers it has
 * scheduled through its {@link DeviceContext} and the levels of the interrupt lines it drives.
 * What the configuration determines (ports, IRQ numbers, back ends) is not state: restore targets
 * a freshly constructed model of the same configuration, on a context whose virtual time and
 * guest memory are already restored.
 */
public interface Snapshottable extends Device {
    /**
     * The version of the layout {@link #saveState} writes; raised whenever it changes, so an
     * older layout is refused instead of misread.
     */
    int stateVersion();

    /** Writes the model's complete state. Does not change the model. */
    void saveState(SectionWriter out);

    /**
     * Replaces the state of this freshly constructed model with the saved one: cancels the timers
     * its power-on state scheduled, re-arms the saved ones at their original deadlines and drives
     * its interrupt lines to the saved levels. A truncated or malformed state is a
     * {@link SnapshotException} naming the device and the field; the model is then unusable and
     * must be discarded.
     */
    void restoreState(SectionReader in) throws SnapshotException;

    /** A model that holds no state between accesses: its state is its version alone. */
    interface Stateless extends Snapshottable {
        @Override
        default int stateVersion() {
            return 1;
        }

        @Override
        default void saveState(SectionWriter out) { }

        @Override
        default void restoreState(SectionReader in) { }
    }
}

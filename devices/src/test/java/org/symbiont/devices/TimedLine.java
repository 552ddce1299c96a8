package org.symbiont.devices;

import java.util.ArrayList;
import java.util.List;

/** An interrupt line that records each change with the virtual time it happened at. */
public final class TimedLine implements InterruptLine {
    private final DeviceContext context;
    public boolean level;
    public final List<String> changes = new ArrayList<>();

    public TimedLine(DeviceContext context) {
        this.context = context;
    }

    @Override
    public void set(boolean asserted) {
        if (asserted != level) changes.add(context.nanos() + (asserted ? " up" : " down"));
        level = asserted;
    }
}

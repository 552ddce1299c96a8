package org.symbiont.devices;

import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** The device types available on the class path, by name. */
public final class DeviceRegistry {
    private final Map<String, DeviceFactory> factories = new TreeMap<>();

    private DeviceRegistry() {}

    /** Every factory registered through {@code META-INF/services/org.symbiont.devices.DeviceFactory}. */
    public static DeviceRegistry load() {
        DeviceRegistry r = new DeviceRegistry();
        for (DeviceFactory f : ServiceLoader.load(DeviceFactory.class)) {
            DeviceFactory old = r.factories.put(f.type(), f);
            if (old != null) {
                throw new IllegalStateException("device type '" + f.type() + "' registered twice: "
                        + old.getClass().getName() + " and " + f.getClass().getName());
            }
        }
        return r;
    }

    /** The factory for {@code type}, or an error listing the known types. */
    public DeviceFactory factory(String type) {
        DeviceFactory f = factories.get(type);
        if (f == null) {
            throw new IllegalArgumentException("unknown device type '" + type + "'; known types: " + String.join(", ", factories.keySet()));
        }
        return f;
    }

    public java.util.Set<String> types() {
        return java.util.Collections.unmodifiableSet(factories.keySet());
    }
}

package org.symbiont.devices;

import com.typesafe.config.Config;

/**
 * Creates instances of one device type from configuration. Factories are found with
 * {@link java.util.ServiceLoader} (see {@link DeviceRegistry}), as Palacios registers devices by
 * name.
 */
public interface DeviceFactory {
    /** The type name used in configuration ({@code type = uart16550}). */
    String type();

    /**
     * Creates an instance. Invalid parameters throw {@link com.typesafe.config.ConfigException}
     * naming the path and what was expected.
     */
    Device create(String name, Config params, DeviceContext context);
}

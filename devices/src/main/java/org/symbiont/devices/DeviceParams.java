package org.symbiont.devices;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValueType;

/** Reading and checking factory parameters: bad values are {@link ConfigException}s naming the path. */
public final class DeviceParams {
    private DeviceParams() {}

    /**
     * The integer at {@code path}, or {@code fallback} when absent; must lie in {@code [min, max]}.
     * A number, or a string in C notation ({@code "0x3f8"}, since HOCON has no hexadecimal numbers).
     */
    public static int intIn(Config params, String path, int min, int max, int fallback) {
        if (!params.hasPath(path)) return fallback;
        int v;
        if (params.getValue(path).valueType() == ConfigValueType.STRING) {
            String text = params.getString(path);
            try {
                v = Integer.decode(text.trim());
            } catch (NumberFormatException e) {
                throw new ConfigException.BadValue(params.origin(), path, "expected an integer such as 1016 or \"0x3f8\", got '" + text + "'");
            }
        } else {
            v = params.getInt(path);
        }
        if (v < min || v > max) {
            throw new ConfigException.BadValue(params.origin(), path,
                    String.format("must be between %d (%#x) and %d (%#x), got %d (%#x)", min, min, max, max, v, v));
        }
        return v;
    }

    public static String string(Config params, String path, String fallback) {
        return params.hasPath(path) ? params.getString(path) : fallback;
    }
}

package org.symbiont.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A fault of the simulated cluster itself, applied by the {@link Coordinator} when every node
 * has reached virtual time {@code atNanos} (a window boundary). A member is named by its index —
 * members in order of age, the oldest (the one that started the cluster) 0, as
 * {@link NodePlacement} places node k on member k mod M — or by its address, HOST:PORT.
 */
public sealed interface ClusterFault extends CborSerializable {
    long atNanos();

    /** The kind as written in a scenario. */
    String kind();

    /** The members this fault names, as written (indices or HOST:PORT). */
    List<String> members();

    /** Member {@code member}'s actor system is terminated: its nodes and their VMs are gone. */
    record KillMember(long atNanos, String member) implements ClusterFault {
        @Override public String kind() { return "kill-member"; }

        @Override public List<String> members() { return List.of(member); }
    }

    /**
     * From {@code atNanos} for {@code durationNanos}, every frame sent between a node on one of
     * {@code members} and a node on any other member is lost in the interconnect.
     */
    record Partition(long atNanos, List<String> members, long durationNanos) implements ClusterFault {
        public Partition {
            members = List.copyOf(members);
        }

        @Override public String kind() { return "partition"; }

        public long endNanos() {
            return atNanos + durationNanos;
        }
    }

    List<String> KINDS = List.of("kill-member", "partition");


    /** The index of {@code member} (an index or HOST:PORT) among {@code membersByAge} (addresses), or -1 for an address not there. */
    static int memberIndex(String member, List<String> membersByAge) {
        return member.contains(":") ? membersByAge.indexOf("pekko://" + SymbiontCluster.SYSTEM + "@" + member) : Integer.parseInt(member);
    }

    /**
     * The {@code faults} list of {@code c} (absent: none), checked; errors name the origin, the
     * field and what was expected.
     */
    static List<ClusterFault> read(Config c, String origin) {
        if (!c.hasPath("faults")) return List.of();
        List<? extends Config> list;
        try {
            list = c.getConfigList("faults");
        } catch (ConfigException.WrongType e) {
            throw bad(origin, "faults", "a list of faults like [{ at = 2ms, kind = partition, members = [1], duration = 1ms }]");
        }
        List<ClusterFault> faults = new ArrayList<>();
        for (int k = 0; k < list.size(); k++) faults.add(one(list.get(k), origin, "faults[" + k + "]"));
        checkPartitionsApart(faults, origin);
        return List.copyOf(faults);
    }

    private static ClusterFault one(Config f, String origin, String where) {
        long at = duration(f, origin, where, "at");
        if (!f.hasPath("kind")) throw bad(origin, where + ".kind", "one of " + String.join(", ", KINDS));
        String kind = f.getValue("kind").unwrapped().toString();
        return switch (kind) {
            case "kill-member" -> {
                if (!f.hasPath("member")) throw bad(origin, where + ".member", "a member index (0 is the oldest) or HOST:PORT");
                yield new KillMember(at, member(f.getValue("member"), origin, where + ".member"));
            }
            case "partition" -> {
                String path = where + ".members";
                if (!f.hasPath("members") || f.getValue("members").valueType() != ConfigValueType.LIST || f.getList("members").isEmpty()) {
                    throw bad(origin, path, "a non-empty list of members (indices or HOST:PORT), the side cut off from the rest");
                }
                List<String> members = new ArrayList<>();
                for (int i = 0; i < f.getList("members").size(); i++) {
                    String m = member(f.getList("members").get(i), origin, path + "[" + i + "]");
                    if (members.contains(m)) throw bad(origin, path + "[" + i + "]", "each member once, got " + m + " again");
                    members.add(m);
                }
                long duration = duration(f, origin, where, "duration");
                if (duration < 1) throw bad(origin, where + ".duration", "a positive duration (e.g. 1ms), got " + duration + "ns");
                yield new Partition(at, members, duration);
            }
            default -> throw bad(origin, where + ".kind", "one of " + String.join(", ", KINDS) + ", got \"" + kind + "\"");
        };
    }

    /** A member index (a non-negative integer) as its decimal text, or HOST:PORT. */
    private static String member(ConfigValue v, String origin, String path) {
        String expected = "a member index (0 is the oldest) or HOST:PORT";
        Object value = v.unwrapped();
        if (value instanceof Number number) {
            if (number.doubleValue() != number.longValue() || number.longValue() < 0 || number.longValue() > 65535) {
                throw bad(origin, path, expected + ", got " + number);
            }
            return Long.toString(number.longValue());
        }
        if (v.valueType() == ConfigValueType.STRING) {
            String text = (String) value;
            if (text.matches("[0-9]{1,5}")) return Integer.toString(Integer.parseInt(text));
            try {
                return SymbiontCluster.checkHostPort(text);
            } catch (IllegalArgumentException e) {
                throw bad(origin, path, expected + ", got \"" + text + "\"");
            }
        }
        throw bad(origin, path, expected + ", got " + v.valueType().name().toLowerCase(java.util.Locale.ROOT));
    }

    private static long duration(Config f, String origin, String where, String key) {
        String expected = "a duration of virtual time (e.g. 2ms), 0 or more";
        if (!f.hasPath(key)) throw bad(origin, where + "." + key, expected);
        long nanos;
        try {
            nanos = f.getDuration(key, TimeUnit.NANOSECONDS);
        } catch (ConfigException e) {
            throw bad(origin, where + "." + key, expected + ", got " + f.getValue(key).render());
        }
        if (nanos < 0) throw bad(origin, where + "." + key, expected + ", got " + f.getValue(key).render());
        return nanos;
    }

    /** One cut of the interconnect at a time: a frame is lost or not by a single rule. */
    private static void checkPartitionsApart(List<ClusterFault> faults, String origin) {
        List<Partition> partitions = faults.stream().filter(f -> f instanceof Partition).map(f -> (Partition) f)
                .sorted(Comparator.comparingLong(Partition::atNanos)).toList();
        for (int k = 1; k < partitions.size(); k++) {
            Partition before = partitions.get(k - 1), after = partitions.get(k);
            if (after.atNanos() < before.endNanos()) {
                throw new IllegalArgumentException(origin + ": faults: partitions must not overlap; one from " + before.atNanos()
                        + "ns to " + before.endNanos() + "ns, another from " + after.atNanos() + "ns");
            }
        }
    }

    private static IllegalArgumentException bad(String origin, String path, String expected) {
        return new IllegalArgumentException(origin + ": " + path + ": expected " + expected);
    }
}

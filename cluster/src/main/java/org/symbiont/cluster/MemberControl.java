package org.symbiont.cluster;

import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * What an experiment's coordinator may ask of a member itself, at {@code /system/}{@value #NAME}
 * on every member: to end, for a {@link ClusterFault.KillMember}. A separate-JVM member's process
 * ends with its actor system.
 */
public final class MemberControl {
    private MemberControl() {}

    static final String NAME = "symbiont-member";

    public sealed interface Command extends CborSerializable {}

    /** Terminate this member's actor system (its nodes and their VMs with it). */
    public record Terminate(String why) implements Command {}

    static Behavior<Command> create() {
        return Behaviors.receive((ctx, m) -> switch (m) {
            case Terminate t -> {
                ctx.getLog().warn("cluster member {} ends: {}", ctx.getSystem().address(), t.why());
                ctx.getSystem().terminate();
                yield Behaviors.same();
            }
        });
    }

    /** The control actor of the member at {@code memberAddress} (pekko://symbiont@HOST:PORT). */
    static ActorRef<Command> of(ActorSystem<?> system, String memberAddress) {
        return ActorRefResolver.get(system).resolveActorRef(memberAddress + "/system/" + NAME);
    }
}

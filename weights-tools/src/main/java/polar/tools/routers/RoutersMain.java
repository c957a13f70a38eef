package polar.tools.routers;

/** {@code java -cp ... polar.tools.routers.RoutersMain <collect|train|calibrate|eval> ...}: the same as {@code polar routers ...} without the launcher. */
public final class RoutersMain {
    private RoutersMain() {}

    public static void main(String[] args) {
        System.exit(new RoutersCommand().run(args));
    }
}

package polar.tools.routers;

/** {@code java -cp ... polar.tools.routers.RoutersMain <collect|train|calibrate|eval> ...}, until the {@code polar} command registers {@link RoutersCommand}. */
public final class RoutersMain {
    private RoutersMain() {}

    public static void main(String[] args) {
        System.exit(new RoutersCommand().run(args));
    }
}

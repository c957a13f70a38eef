package polar.tornado;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a loop variable whose iterations are independent, as in TornadoVM:
 * {@code for (@Parallel int i = 0; i < n; i++)}. Up to three nested loops may be marked; the
 * outermost becomes dimension x. On a GPU each iteration is a work-item (grid-stride, so any
 * launch size is correct); in the JVM the loop runs as written.
 */
@Retention(RetentionPolicy.SOURCE)
@Target({ElementType.LOCAL_VARIABLE, ElementType.TYPE_USE})
public @interface Parallel {}

import org.codehaus.groovy.runtime.InvokerHelper
import org.codehaus.groovy.runtime.ScriptBytecodeAdapter
import org.codehaus.groovy.runtime.typehandling.DefaultTypeTransformation
import org.jenkinsci.plugins.scriptsecurity.sandbox.RejectedAccessException

/**
 * The run-time half of the sandbox check. CallCheckTransformer rewrites every call the library
 * makes (a method on an object, a static method, a constructor, a property, an operator) into a
 * call to one of these methods, which names it as script-security would (Signatures), records
 * it for the call site, rejects it with RejectedAccessException unless
 * tests/groovy/sandbox-allowlist.txt lists it, and then performs it the way Groovy would.
 */
class SandboxCheck {
    /** call site -> signatures seen there at run time. */
    static final Map<String, Set<String>> OBSERVED = new TreeMap<String, Set<String>>()
    /** PIPELINE_PY_SANDBOX_DISCOVER=1 records without rejecting (to list the calls of a change). */
    static boolean enforcing = System.getenv("PIPELINE_PY_SANDBOX_DISCOVER") == null
    private static Allowlist allowlist

    static synchronized Allowlist allowlist() {
        if (allowlist == null) {
            allowlist = Allowlist.load(PipelineHarness.repoFile(Allowlist.PATH))
        }
        return allowlist
    }

    static void reload() {
        allowlist = null
    }

    private static Class type(Object o) {
        return o == null ? null : o.getClass()
    }

    private static List<Class> types(Object[] args) {
        return args.collect { type(it) }
    }

    /** Recorded for a site that needed no check this time (a Boolean cast to boolean, a comparison with null on the left). */
    static final String NO_CHECK = '(no check needed)'

    static synchronized void observe(String site, String signature) {
        Set<String> seen = OBSERVED[site]
        if (seen == null) {
            seen = new TreeSet<String>()
            OBSERVED[site] = seen
        }
        seen << signature
    }

    static void check(String site, Map resolved, Closure<String> what) {
        String signature = resolved?.signature
        if (signature == null) {
            signature = "unresolved ${what.call()}".toString()
        }
        observe(site, signature)
        if (enforcing && !allowlist().permits(signature)) {
            throw new RejectedAccessException(signature, site)
        }
    }

    static Object call(Object receiver, boolean safe, String name, Object[] args, String site) {
        if (receiver == null && safe) {
            return null
        }
        if (receiver == null) {
            throw new NullPointerException("Cannot invoke method ${name}() on null object (${site})")
        }
        if (receiver instanceof Class && ((Class) receiver).declaredMethods.any { it.name == name && java.lang.reflect.Modifier.isStatic(it.modifiers) }) {
            return staticCall((Class) receiver, name, args, site)
        }
        check(site, Signatures.method(receiver.getClass(), name, types(args)), { "method ${Signatures.name(receiver.getClass())} ${name}" })
        return InvokerHelper.invokeMethod(receiver, name, args)
    }

    static Object staticCall(Class receiver, String name, Object[] args, String site) {
        check(site, Signatures.staticMethod(receiver, name, types(args)), { "staticMethod ${Signatures.name(receiver)} ${name}" })
        return InvokerHelper.invokeStaticMethod(receiver, name, args)
    }

    static Object construct(Class type, Object[] args, String site) {
        check(site, Signatures.constructor(type, types(args)), { "new ${Signatures.name(type)}" })
        return InvokerHelper.invokeConstructorOf(type, args)
    }

    static Object getProperty(Object receiver, boolean safe, String name, String site) {
        if (receiver == null && safe) {
            return null
        }
        if (receiver instanceof Class) {
            check(site, Signatures.isOwn((Class) receiver) ? [signature: "staticField ${Signatures.name((Class) receiver)} ${name}".toString()] :
                [signature: "staticField ${Signatures.name((Class) receiver)} ${name}".toString()], { name })
            return InvokerHelper.getProperty(receiver, name)
        }
        if (receiver instanceof Collection) {
            throw new AssertionError("${site}: property '${name}' of a collection spreads over its elements; write collect { } instead")
        }
        check(site, Signatures.propertyGet(receiver.getClass(), name), { "property ${Signatures.name(receiver.getClass())} ${name}" })
        return InvokerHelper.getProperty(receiver, name)
    }

    static Object setProperty(Object receiver, String name, Object value, String site) {
        check(site, Signatures.propertySet(receiver.getClass(), name, type(value)), { "property ${Signatures.name(receiver.getClass())} ${name}=" })
        InvokerHelper.setProperty(receiver, name, value)
        return value
    }

    static Object getAt(Object receiver, Object index, String site) {
        if (receiver.getClass().isArray() && index instanceof Integer) {
            return InvokerHelper.invokeMethod(receiver, 'getAt', index)
        }
        check(site, Signatures.method(receiver.getClass(), 'getAt', [type(index)]), { "method ${Signatures.name(receiver.getClass())} getAt" })
        return InvokerHelper.invokeMethod(receiver, 'getAt', [index] as Object[])
    }

    static Object putAt(Object receiver, Object index, Object value, String site) {
        check(site, Signatures.method(receiver.getClass(), 'putAt', [type(index), type(value)]), { "method ${Signatures.name(receiver.getClass())} putAt" })
        InvokerHelper.invokeMethod(receiver, 'putAt', [index, value] as Object[])
        return value
    }

    /** a + b, a << b, ...: a method call on the left operand. */
    static Object binary(Object lhs, String method, Object rhs, String site) {
        return call(lhs, false, method, [rhs] as Object[], site)
    }

    /** ==, <, ...: compareTo on a Comparable left operand, equals otherwise; nothing to check for null. */
    static Object compare(Object lhs, String adapterMethod, Object rhs, String site) {
        if (lhs != null) {
            String m = lhs instanceof Comparable ? 'compareTo' : 'equals'
            check(site, Signatures.method(lhs.getClass(), m, [type(rhs)]), { "method ${Signatures.name(lhs.getClass())} ${m}" })
        } else {
            observe(site, NO_CHECK)
        }
        return InvokerHelper.invokeStaticMethod(ScriptBytecodeAdapter, adapterMethod, [lhs, rhs] as Object[])
    }

    /** x as boolean / (boolean) x: asBoolean on anything but a Boolean. */
    static boolean castBoolean(Object value, String site) {
        if (value != null && !(value instanceof Boolean)) {
            check(site, Signatures.method(value.getClass(), 'asBoolean', []), { "method ${Signatures.name(value.getClass())} asBoolean" })
        } else {
            observe(site, NO_CHECK)
        }
        return DefaultTypeTransformation.castToBoolean(value)
    }
}

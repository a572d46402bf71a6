import org.codehaus.groovy.runtime.DefaultGroovyMethods
import org.codehaus.groovy.runtime.StringGroovyMethods

import java.lang.reflect.Constructor
import java.util.concurrent.ConcurrentHashMap
import java.lang.reflect.Method
import java.lang.reflect.Modifier

/**
 * Names a call the way script-security's sandbox names it when it asks an administrator to
 * approve it: `method <declaring class> <name> <parameter types>`, `staticMethod ...`,
 * `new <class> <parameter types>`. Our own reading of how the sandbox picks the method (written
 * for these tests, not taken from Jenkins): the most general declaration that accepts the
 * arguments, searching the receiver's supertypes (superclasses first, then interfaces) before the
 * receiver's class; failing that a Groovy extension method (DefaultGroovyMethods,
 * StringGroovyMethods); arithmetic on numbers needs no approval.
 *
 * Types are Class objects; a null argument type stands for a null value, UNKNOWN for a value whose
 * type the static pass could not infer.
 */
class Signatures {
    /** An argument type the static pass does not know. */
    static final Class UNKNOWN = Signatures.Unknown

    static final class Unknown {
    }

    static final List<Class> EXTENSION_CLASSES = [DefaultGroovyMethods, StringGroovyMethods]

    static final Set<String> NUMBER_MATH = ['plus', 'minus', 'multiply', 'div', 'compareTo', 'or', 'and', 'xor',
                                            'intdiv', 'mod', 'leftShift', 'rightShift', 'rightShiftUnsigned'] as Set

    /** Harness fakes stand for these Jenkins classes in signatures. */
    static final Map<String, String> JENKINS_NAMES = [
        FakeEnv  : 'org.jenkinsci.plugins.workflow.cps.EnvActionImpl',
        FakeBuild: 'org.jenkinsci.plugins.workflow.support.steps.build.RunWrapper',
    ]

    /** Resolutions are pure functions of the types: cached (reflection over the extension classes is slow). */
    private static final Map<List, Object> CACHE = new ConcurrentHashMap<List, Object>()
    private static final Object NONE = new Object()

    private static Map cached(String kind, Class receiver, String name, List<Class> args, Closure<Map> resolve) {
        List key = [kind, receiver, name, args]
        Object hit = CACHE.get(key)
        if (hit == null) {
            Map r = resolve.call()
            CACHE.put(key, r == null ? NONE : r)
            return r
        }
        return hit.is(NONE) ? null : (Map) hit
    }

    /** Classes of the library itself (vars/, src/, the Jenkinsfile); set by the harness. */
    static Closure<Boolean> isOwn = { Class c -> false }

    private static final Map<String, List<Method>> EXTENSIONS = new ConcurrentHashMap<String, List<Method>>()

    /** The static methods of an extension class by name (its declaredMethods are costly to list). */
    static List<Method> extensionMethods(Class ext, String name) {
        if (!EXTENSIONS.containsKey(ext.name)) {
            ext.declaredMethods.findAll { Modifier.isStatic(it.modifiers) }.groupBy { it.name }.each { String n, List<Method> ms ->
                EXTENSIONS["${ext.name}#${n}".toString()] = ms
            }
            EXTENSIONS[ext.name] = []
        }
        return EXTENSIONS["${ext.name}#${name}".toString()] ?: []
    }

    static String name(Class c) {
        if (c == null) {
            return 'null'
        }
        if (c.isArray()) {
            return name(c.componentType) + '[]'
        }
        return JENKINS_NAMES[c.name] ?: c.name
    }

    static String params(Class[] types) {
        return types.collect { ' ' + name(it) }.join('')
    }

    static String methodSignature(Method m) {
        String kind = Modifier.isStatic(m.modifiers) ? 'staticMethod' : 'method'
        return "${kind} ${name(m.declaringClass)} ${m.name}${params(m.parameterTypes)}".toString()
    }

    static String constructorSignature(Constructor c) {
        return "new ${name(c.declaringClass)}${params(c.parameterTypes)}".toString()
    }

    /** Supertypes first (superclass chain, then interfaces), the class itself last; each once. */
    static List<Class> searchOrder(Class c) {
        LinkedHashSet<Class> out = new LinkedHashSet<Class>()
        addTypes(out, c)
        return out as List
    }

    private static void addTypes(LinkedHashSet<Class> out, Class c) {
        if (c.superclass != null) {
            addTypes(out, c.superclass)
        }
        c.interfaces.each { addTypes(out, it) }
        out << c
    }

    static Class boxed(Class c) {
        switch (c) {
            case int: return Integer
            case long: return Long
            case boolean: return Boolean
            case double: return Double
            case float: return Float
            case char: return Character
            case byte: return Byte
            case short: return Short
            default: return c
        }
    }

    /** true: certainly accepted; false: certainly not; null: unknown (the static pass lacks the type). */
    static Boolean accepts(Class param, Class arg) {
        if (arg == UNKNOWN) {
            return param == Object ? true : null
        }
        if (arg == null) {
            return !param.isPrimitive()
        }
        Class p = boxed(param)
        if (p.isAssignableFrom(arg)) {
            return true
        }
        if ((p == Long && arg == Integer) || (p == Integer && arg == Long)) {
            return true
        }
        return p == String && GString.isAssignableFrom(arg)
    }

    /** [method, certain]: the best match among one class's declared methods, or null. */
    private static List match(List candidates, List<Class> args) {
        List certain = []
        List possible = []
        candidates.each { Object m ->
            Class[] ps = m instanceof Method ? ((Method) m).parameterTypes : ((Constructor) m).parameterTypes
            if (ps.length != args.size()) {
                return
            }
            List<Boolean> each = (0..<ps.length).collect { int i -> accepts(ps[i], args[i]) }
            if (each.every { it == true }) {
                certain << m
            } else if (!each.any { it == false }) {
                possible << m
            }
        }
        if (!certain && !possible) {
            return null
        }
        List all = certain + possible
        Object best = mostSpecific(all)
        // whatever the unknown types turn out to be, no other candidate beats the best one: it is
        // the answer when it certainly matches
        return [best, best in certain]
    }

    /** The candidate that no other beats (see moreSpecific); varargs lose to fixed arity. */
    private static Object mostSpecific(List methods) {
        Object best = methods[0]
        methods.drop(1).each { Object m ->
            if (moreSpecific(m, best)) {
                best = m
            }
        }
        return best
    }

    private static Class[] types(Object m) {
        return m instanceof Method ? ((Method) m).parameterTypes : ((Constructor) m).parameterTypes
    }

    private static boolean varArgs(Object m) {
        return m instanceof Method ? ((Method) m).isVarArgs() : ((Constructor) m).isVarArgs()
    }

    /** a beats b when, at the first parameter where they differ, a's type is the narrower one. */
    private static boolean moreSpecific(Object a, Object b) {
        if (varArgs(a) != varArgs(b)) {
            return !varArgs(a)
        }
        Class[] x = types(a)
        Class[] y = types(b)
        for (int i = 0; i < x.length; i++) {
            Class p = boxed(x[i])
            Class q = boxed(y[i])
            if (p == q) {
                continue
            }
            if (p.isAssignableFrom(q)) {
                return false
            }
            if (q.isAssignableFrom(p)) {
                return true
            }
        }
        return false
    }

    /**
     * The signature of `receiver.name(args)`: [signature:, certain: false when the static pass
     * could not tell between overloads], or null when no such method exists.
     */
    static Map method(Class receiver, String name, List<Class> args) {
        return cached('method', receiver, name, args) { resolveMethod(receiver, name, args) }
    }

    private static Map resolveMethod(Class receiver, String name, List<Class> args) {
        if (receiver == UNKNOWN || receiver == Object) {
            // only java.lang.Object's own methods are the same whatever the run-time class
            List found = match(Object.declaredMethods.findAll { it.name == name } as List, args)
            return found && found[1] ? [signature: methodSignature((Method) found[0]), certain: true] :
                [signature: null, certain: false]
        }
        for (Class c : searchOrder(receiver)) {
            List found = match(c.declaredMethods.findAll { it.name == name && !it.isSynthetic() } as List, args)
            if (found) {
                return [signature: methodSignature((Method) found[0]), certain: found[1]]
            }
        }
        if (isOwn(receiver)) {
            return [signature: ownMethod(receiver, name, args), certain: true]
        }
        if (Number.isAssignableFrom(receiver) && name in NUMBER_MATH) {
            return [signature: "number-math ${name}".toString(), certain: true]
        }
        List<Class> selfArgs = [receiver] + args
        for (Class ext : EXTENSION_CLASSES) {
            List found = match(extensionMethods(ext, name), selfArgs)
            if (found) {
                return [signature: methodSignature((Method) found[0]), certain: found[1]]
            }
        }
        return null
    }

    static Map staticMethod(Class receiver, String name, List<Class> args) {
        return cached('static', receiver, name, args) { resolveStatic(receiver, name, args) }
    }

    private static Map resolveStatic(Class receiver, String name, List<Class> args) {
        if (isOwn(receiver)) {
            return [signature: ownMethod(receiver, name, args), certain: true]
        }
        List found = match(receiver.declaredMethods.findAll { it.name == name && Modifier.isStatic(it.modifiers) } as List, args)
        return found ? [signature: methodSignature((Method) found[0]), certain: found[1]] : null
    }

    static Map constructor(Class type, List<Class> args) {
        return cached('new', type, '<init>', args) { resolveConstructor(type, args) }
    }

    private static Map resolveConstructor(Class type, List<Class> args) {
        List found = match(type.declaredConstructors as List, args)
        if (!found && args.size() == 1 && args[0] != null && Map.isAssignableFrom(args[0])) {
            Constructor noArg = type.declaredConstructors.find { it.parameterTypes.length == 0 }
            return noArg ? [signature: constructorSignature(noArg), certain: true] : null
        }
        return found ? [signature: constructorSignature((Constructor) found[0]), certain: found[1]] : null
    }

    /** A method of our own class: named with the declaring class and parameter types, like any other. */
    static String ownMethod(Class receiver, String name, List<Class> args) {
        for (Class c : searchOrder(receiver).reverse()) {
            List found = match(c.declaredMethods.findAll { it.name == name && !it.isSynthetic() } as List, args)
            if (found) {
                return methodSignature((Method) found[0])
            }
        }
        return "method ${name(receiver)} ${name}".toString()
    }

    /**
     * `receiver.property` (get): a Map's get, else the getter, `is` getter, extension getter,
     * field, or GroovyObject getProperty, in the sandbox's order.
     */
    static Map propertyGet(Class receiver, String property) {
        if (Map.isAssignableFrom(receiver)) {
            return method(receiver, 'get', [String])
        }
        if (isOwn(receiver)) {
            return [signature: "field ${name(receiver)} ${property}".toString(), certain: true]
        }
        if (JENKINS_NAMES.containsKey(receiver.name) && !receiver.declaredMethods.any { it.name == "get${property.capitalize()}".toString() }) {
            // env.X: EnvActionImpl.getProperty, which workflow-cps' CpsWhitelist allows
            return [signature: "method ${name(receiver)} getProperty java.lang.String".toString(), certain: true]
        }
        String cap = property.capitalize()
        for (String getter : ["get${cap}".toString(), "is${cap}".toString()]) {
            Map m = method(receiver, getter, [])
            if (m?.signature && !m.signature.startsWith('number-math')) {
                return m
            }
        }
        if (receiver.isArray() && property == 'length') {
            return [signature: 'array length', certain: true]
        }
        Map gp = method(receiver, 'getProperty', [String])
        if (gp?.signature && !gp.signature.contains('groovy.lang.GroovyObject getProperty')) {
            return gp
        }
        return null
    }

    static Map propertySet(Class receiver, String property, Class value) {
        if (Map.isAssignableFrom(receiver)) {
            return method(receiver, 'put', [String, value])
        }
        if (isOwn(receiver)) {
            return [signature: "field ${name(receiver)} ${property}".toString(), certain: true]
        }
        if (JENKINS_NAMES.containsKey(receiver.name) && !receiver.declaredMethods.any { it.name == "set${property.capitalize()}".toString() }) {
            return [signature: "method ${name(receiver)} setProperty java.lang.String java.lang.Object".toString(), certain: true]
        }
        Map m = method(receiver, "set${property.capitalize()}".toString(), [value])
        if (m?.signature) {
            return m
        }
        Map sp = method(receiver, 'setProperty', [String, value])
        if (sp?.signature && !sp.signature.contains('groovy.lang.GroovyObject setProperty')) {
            return sp
        }
        return null
    }
}

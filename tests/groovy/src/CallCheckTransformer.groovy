import org.codehaus.groovy.ast.ClassCodeExpressionTransformer
import org.codehaus.groovy.ast.ClassHelper
import org.codehaus.groovy.ast.ClassNode
import org.codehaus.groovy.ast.DynamicVariable
import org.codehaus.groovy.ast.FieldNode
import org.codehaus.groovy.ast.MethodNode
import org.codehaus.groovy.ast.Parameter
import org.codehaus.groovy.ast.PropertyNode
import org.codehaus.groovy.ast.Variable
import org.codehaus.groovy.ast.expr.ArgumentListExpression
import org.codehaus.groovy.ast.expr.ArrayExpression
import org.codehaus.groovy.ast.expr.AttributeExpression
import org.codehaus.groovy.ast.expr.BinaryExpression
import org.codehaus.groovy.ast.expr.BooleanExpression
import org.codehaus.groovy.ast.expr.CastExpression
import org.codehaus.groovy.ast.expr.ClassExpression
import org.codehaus.groovy.ast.expr.ClosureExpression
import org.codehaus.groovy.ast.expr.ConstantExpression
import org.codehaus.groovy.ast.expr.ConstructorCallExpression
import org.codehaus.groovy.ast.expr.DeclarationExpression
import org.codehaus.groovy.ast.expr.ElvisOperatorExpression
import org.codehaus.groovy.ast.expr.Expression
import org.codehaus.groovy.ast.expr.GStringExpression
import org.codehaus.groovy.ast.expr.ListExpression
import org.codehaus.groovy.ast.expr.MapEntryExpression
import org.codehaus.groovy.ast.expr.MapExpression
import org.codehaus.groovy.ast.expr.MethodCallExpression
import org.codehaus.groovy.ast.expr.MethodPointerExpression
import org.codehaus.groovy.ast.expr.NamedArgumentListExpression
import org.codehaus.groovy.ast.expr.NotExpression
import org.codehaus.groovy.ast.expr.PostfixExpression
import org.codehaus.groovy.ast.expr.PrefixExpression
import org.codehaus.groovy.ast.expr.PropertyExpression
import org.codehaus.groovy.ast.expr.RangeExpression
import org.codehaus.groovy.ast.expr.SpreadExpression
import org.codehaus.groovy.ast.expr.StaticMethodCallExpression
import org.codehaus.groovy.ast.expr.TernaryExpression
import org.codehaus.groovy.ast.expr.TupleExpression
import org.codehaus.groovy.ast.expr.VariableExpression
import org.codehaus.groovy.classgen.GeneratorContext
import org.codehaus.groovy.control.CompilePhase
import org.codehaus.groovy.control.SourceUnit
import org.codehaus.groovy.control.customizers.CompilationCustomizer
import org.codehaus.groovy.runtime.ScriptBytecodeAdapter
import org.codehaus.groovy.syntax.Token
import org.codehaus.groovy.syntax.Types

/**
 * The sandbox check's AST half, built on Groovy 2.4's own compilation customizers. For the
 * library's files (vars/, src/, the Jenkinsfile) it finds every call site the script-security
 * sandbox intercepts: a method on an object, a static method, a constructor, a property, an
 * index, an operator (a + b is a.plus(b), a in b is b.isCase(a), ==~ is matchRegex, == is
 * compareTo or equals), a cast to boolean (asBoolean); and, apart from those, the unqualified
 * calls (steps, Declarative directives, the library's own methods) and global variables.
 *
 * With rewrite=true (the harness) every such site becomes a call to SandboxCheck, which checks
 * the run-time signature against the allowlist before performing it. With rewrite=false (the
 * static pass, SandboxTest) it only reports the sites, each with the signature its declared types
 * give, or none when a type is only known at run time.
 */
class CallCheckTransformer extends CompilationCustomizer {
    /** Which sources are library code, and their repository-relative paths: source name -> path. */
    static final Map<String, String> LIBRARY_SOURCES = Collections.synchronizedMap([:])

    static final ClassNode CHECK = ClassHelper.make(SandboxCheck)

    static final Map<Integer, String> OPERATORS = [
        (Types.PLUS): 'plus', (Types.MINUS): 'minus', (Types.MULTIPLY): 'multiply', (Types.DIVIDE): 'div',
        (Types.MOD): 'mod', (Types.POWER): 'power', (Types.LEFT_SHIFT): 'leftShift', (Types.RIGHT_SHIFT): 'rightShift',
        (Types.RIGHT_SHIFT_UNSIGNED): 'rightShiftUnsigned', (Types.BITWISE_OR): 'or', (Types.BITWISE_AND): 'and',
        (Types.BITWISE_XOR): 'xor', (Types.INTDIV): 'intdiv',
    ]
    static final Map<Integer, Integer> COMPOUND = [
        (Types.PLUS_EQUAL): Types.PLUS, (Types.MINUS_EQUAL): Types.MINUS, (Types.MULTIPLY_EQUAL): Types.MULTIPLY,
        (Types.DIVIDE_EQUAL): Types.DIVIDE, (Types.MOD_EQUAL): Types.MOD, (Types.LEFT_SHIFT_EQUAL): Types.LEFT_SHIFT,
    ]
    static final Map<Integer, String> COMPARISONS = [
        (Types.COMPARE_EQUAL): 'compareEqual', (Types.COMPARE_NOT_EQUAL): 'compareNotEqual',
        (Types.COMPARE_LESS_THAN): 'compareLessThan', (Types.COMPARE_LESS_THAN_EQUAL): 'compareLessThanEqual',
        (Types.COMPARE_GREATER_THAN): 'compareGreaterThan', (Types.COMPARE_GREATER_THAN_EQUAL): 'compareGreaterThanEqual',
        (Types.COMPARE_TO): 'compareTo',
    ]
    static final String COMPARE_TO = 'method java.lang.Comparable compareTo java.lang.Object'
    static final String EQUALS = 'method java.lang.Object equals java.lang.Object'
    static final Map<Integer, String> REGEX = [(Types.FIND_REGEX): 'findRegex', (Types.MATCH_REGEX): 'matchRegex']

    private static final Map<String, Class> RETURN_TYPES = new java.util.concurrent.ConcurrentHashMap<String, Class>()

    /** Declarative Pipeline's sections and directives (resolved by its parser, not as steps). */
    static final Set<String> DSL = ['pipeline', 'agent', 'label', 'none', 'any', 'options', 'stages', 'when', 'beforeAgent',
                                    'expression', 'steps', 'script', 'post', 'always', 'unsuccessful', 'failure',
                                    'success', 'aborted', 'cleanup', 'buildDiscarder', 'logRotator'] as Set

    /** Global variables of the harness that stand for Jenkins' (their class gives the signature). */
    static final Map<String, Class> GLOBAL_TYPES = [env: FakeEnv, currentBuild: FakeBuild]

    final boolean rewrite
    /** Every site found: [key:, file:, line:, kind:, name:, signature:, certain:, text:]. */
    final List<Map> sites = []
    /** Names of the library's vars/ steps (global variables whose type is the vars class). */
    Set<String> varNames = [] as Set

    CallCheckTransformer(boolean rewrite) {
        super(CompilePhase.CANONICALIZATION)
        this.rewrite = rewrite
    }

    static String fileOf(SourceUnit source) {
        String name = source.name
        if (LIBRARY_SOURCES.containsKey(name)) {
            return LIBRARY_SOURCES[name]
        }
        String path = name.replace('file:', '')
        File repo = PipelineHarness.repo
        if (repo != null) {
            String src = new File(repo, 'src').canonicalPath + '/'
            if (path.startsWith(src)) {
                return 'src/' + path.substring(src.length())
            }
        }
        return null
    }

    @Override
    void call(SourceUnit source, GeneratorContext context, ClassNode classNode) {
        String file = fileOf(source)
        if (file == null) {
            return
        }
        new Visitor(source, file, classNode).visitClass(classNode)
    }

    class Visitor extends ClassCodeExpressionTransformer {
        final SourceUnit source
        final String file
        final ClassNode classNode

        Visitor(SourceUnit source, String file, ClassNode classNode) {
            this.source = source
            this.file = file
            this.classNode = classNode
        }

        @Override
        protected SourceUnit getSourceUnit() {
            return source
        }

        String key(Expression e, String kind, String name) {
            return "${file}:${e.lineNumber}:${e.columnNumber}-${e.lastLineNumber}:${e.lastColumnNumber} ${kind} ${name}".toString()
        }

        String record(Expression e, String kind, String name, Map resolved) {
            String k = key(e, kind, name)
            if (e.lineNumber < 0) {
                return k  // generated by the compiler (a script's main method), not written in the library
            }
            sites << [key      : k, file: file, line: e.lineNumber, kind: kind, name: name,
                      signature: resolved?.signature, certain: resolved?.certain ?: false,
                      own      : resolved?.own ?: false, nothing: resolved?.nothing ?: false,
                      signatures: resolved?.signatures ?: (resolved?.signature ? [resolved.signature] : []),
                      text     : e.text.take(80)]
            return k
        }

        // ---- static types --------------------------------------------------------------------

        private final Map<String, Object> classes = [:]
        private final Map<Expression, Object> types = new IdentityHashMap<Expression, Object>()
        private static final Object UNTYPED = new Object()

        /** The class a ClassNode stands for: a Class, OwnType for the library's own, or null. */
        Object classOf(ClassNode cn) {
            if (cn == null) {
                return null
            }
            String k = cn.name
            if (!classes.containsKey(k)) {
                classes[k] = findClass(cn)
            }
            return classes[k]
        }

        Object findClass(ClassNode cn) {
            if (cn == null || cn == ClassHelper.DYNAMIC_TYPE || cn.name == 'java.lang.Object') {
                return null
            }
            if (isOwnNode(cn)) {
                return new OwnType(cn.name)
            }
            if (ClassHelper.isPrimitiveType(cn)) {
                return ClassHelper.getWrapper(cn).typeClass
            }
            try {
                return cn.isResolved() ? cn.typeClass : Class.forName(cn.name, false, PipelineHarness.loader())
            } catch (Throwable ignored) {
                return null
            }
        }

        boolean isOwnNode(ClassNode cn) {
            return cn.name in varNames || cn.name.startsWith('io.pipelinepy.') || cn.isPrimaryClassNode()
        }

        /** The static type of an expression (Class, OwnType) or null when only the run time knows. */
        Object typeOf(Expression e) {
            Object t = types.get(e)
            if (t == null) {
                t = inferType(e)
                types.put(e, t == null ? UNTYPED : t)
            }
            return t.is(UNTYPED) ? null : t
        }

        Object inferType(Expression e) {
            if (e instanceof ConstantExpression) {
                return e.value == null ? NullType : e.value.getClass()
            }
            if (e instanceof GStringExpression) {
                return GString
            }
            if (e instanceof ListExpression) {
                return ArrayList
            }
            if (e instanceof MapExpression) {
                return LinkedHashMap
            }
            if (e instanceof ClosureExpression) {
                return Closure
            }
            if (e instanceof CastExpression) {
                return classOf(e.type)
            }
            if (e instanceof ConstructorCallExpression) {
                return classOf(e.type)
            }
            if (e instanceof ClassExpression) {
                return classOf(e.type)
            }
            if (e instanceof NotExpression || e instanceof BooleanExpression) {
                return Boolean
            }
            if (e instanceof VariableExpression) {
                return variableType((VariableExpression) e)
            }
            if (e instanceof TernaryExpression) {
                Object a = e instanceof ElvisOperatorExpression ? typeOf(e.trueExpression) : typeOf(e.trueExpression)
                Object b = typeOf(e.falseExpression)
                return a == b ? a : null
            }
            if (e instanceof BinaryExpression) {
                int op = e.operation.type
                if (COMPARISONS.containsKey(op) || REGEX.containsKey(op) || op == Types.KEYWORD_IN ||
                    op == Types.LOGICAL_AND || op == Types.LOGICAL_OR || op == Types.KEYWORD_INSTANCEOF) {
                    return Boolean
                }
                if (OPERATORS.containsKey(op)) {
                    return returnType(methodOf(typeOf(e.leftExpression), OPERATORS[op], [typeOf(e.rightExpression)]))
                }
                return null
            }
            if (e instanceof MethodCallExpression) {
                MethodCallExpression m = (MethodCallExpression) e
                if (m.implicitThis || isThis(m.objectExpression)) {
                    return ownReturnType(classNode, m.methodAsString, argumentsOf(m.arguments).size())
                }
                Object receiver = typeOf(m.objectExpression)
                if (m.objectExpression instanceof ClassExpression) {
                    if (receiver instanceof OwnType) {
                        return ownReturnType(ownNode((OwnType) receiver), m.methodAsString, argumentsOf(m.arguments).size())
                    }
                    return receiver instanceof Class ? returnType(staticOf((Class) receiver, m.methodAsString, argTypes(m.arguments))) : null
                }
                if (receiver instanceof OwnType) {
                    return ownReturnType(ownNode((OwnType) receiver), m.methodAsString, argumentsOf(m.arguments).size())
                }
                return returnType(methodOf(receiver, m.methodAsString, argTypes(m.arguments)))
            }
            if (e instanceof StaticMethodCallExpression) {
                return ownReturnType(classNode, e.method, argumentsOf(e.arguments).size())
            }
            if (e instanceof PropertyExpression && !(e instanceof AttributeExpression)) {
                Object receiver = typeOf(e.objectExpression)
                if (receiver instanceof OwnType && e.objectExpression instanceof ClassExpression) {
                    FieldNode f = ownNode((OwnType) receiver)?.getField(e.propertyAsString)
                    return f ? classOf(f.type) : null
                }
                return null
            }
            return null
        }

        /** A field of the class being compiled (an @Field of a script is one, though references to it are dynamic). */
        boolean ownField(String name) {
            return classNode.getField(name) != null || classNode.outerClass?.getField(name) != null
        }

        Object variableType(VariableExpression v) {
            if (v.name == 'this') {
                return new OwnType(classNode.name)
            }
            Variable target = v.accessedVariable
            if (target instanceof DynamicVariable && ownField(v.name)) {
                FieldNode f = classNode.getField(v.name) ?: classNode.outerClass?.getField(v.name)
                return classOf(f.originType)
            }
            if (target instanceof DynamicVariable) {
                if (v.name in varNames) {
                    return new OwnType(v.name)
                }
                return GLOBAL_TYPES[v.name]
            }
            if (target instanceof Parameter || target instanceof VariableExpression || target instanceof FieldNode ||
                target instanceof PropertyNode) {
                return classOf(target.originType)
            }
            return null
        }

        ClassNode ownNode(OwnType t) {
            return source.AST.unit.classes.find { it.name == t.name } as ClassNode
        }

        Object ownReturnType(ClassNode owner, String name, int arity) {
            MethodNode m = owner?.methods?.find { MethodNode mn ->
                mn.name == name && arity <= mn.parameters.length &&
                    arity >= mn.parameters.count { !it.hasInitialExpression() }
            }
            return m ? classOf(m.returnType) : null
        }

        Object returnType(Map resolved) {
            return resolved?.returnType
        }

        List<Expression> argumentsOf(Expression args) {
            if (args instanceof TupleExpression) {
                List<Expression> out = []
                ((TupleExpression) args).expressions.each { Expression a ->
                    out << (a instanceof NamedArgumentListExpression ? new MapExpression(a.mapEntryExpressions) : a)
                }
                return out
            }
            return [args]
        }

        List<Class> argTypes(Expression args) {
            return argumentsOf(args).collect { Expression a -> toClass(typeOf(a)) }
        }

        Class toClass(Object t) {
            if (t == null) {
                return Signatures.UNKNOWN
            }
            if (t == NullType) {
                return null
            }
            if (t instanceof OwnType) {
                return Signatures.UNKNOWN
            }
            return (Class) t
        }

        Map methodOf(Object receiver, String name, List<Class> args) {
            if (name == null || receiver instanceof OwnType) {
                return null
            }
            Class r = receiver instanceof Class ? (Class) receiver : Signatures.UNKNOWN
            Map m = Signatures.method(r, name, args)
            return m?.signature ? m + [returnType: returnOfSignature(m.signature, r, name, args)] : null
        }

        Map staticOf(Class receiver, String name, List<Class> args) {
            Map m = Signatures.staticMethod(receiver, name, args)
            return m ? m + [returnType: returnOfSignature(m.signature, receiver, name, args)] : null
        }

        /** The declared return type of the method a signature names (erased generics). */
        Class returnOfSignature(String sig, Class receiver, String name, List<Class> args) {
            if (sig == null || !(sig.startsWith('method ') || sig.startsWith('staticMethod '))) {
                return null
            }
            if (RETURN_TYPES.containsKey(sig)) {
                return RETURN_TYPES[sig] == Void ? null : RETURN_TYPES[sig]
            }
            Class r = findReturnType(sig)
            RETURN_TYPES[sig] = r ?: Void
            return r
        }

        Class findReturnType(String sig) {
            List<String> parts = sig.split(' ') as List
            try {
                Class declaring = Class.forName(parts[1])
                List<String> params = parts.drop(3)
                Class r = declaring.declaredMethods.find { java.lang.reflect.Method m ->
                    m.name == parts[2] && m.parameterTypes.collect { Signatures.name(it) } == params
                }?.returnType
                return r == null || r == Object || r == void ? null : (r.isPrimitive() ? Signatures.boxed(r) : r)
            } catch (Throwable ignored) {
                return null
            }
        }

        Map resolveMethod(Expression receiverExpr, String name, Expression args) {
            Object receiver = typeOf(receiverExpr)
            if (receiver instanceof OwnType) {
                return ownSignature((OwnType) receiver, name, args, receiverExpr instanceof ClassExpression)
            }
            if (receiver instanceof Class) {
                if (receiverExpr instanceof ClassExpression) {
                    return Signatures.staticMethod((Class) receiver, name, argTypes(args))
                }
                return Signatures.method((Class) receiver, name, argTypes(args))
            }
            // unknown receiver: only java.lang.Object's own methods (toString, getClass, ...) are known
            return Signatures.method(Signatures.UNKNOWN, name, argTypes(args))
        }

        /** A call into the library's own classes: named from the method's declared parameters. */
        Map ownSignature(OwnType owner, String name, Expression args, boolean isStatic) {
            ClassNode cn = ownNode(owner)
            int arity = argumentsOf(args).size()
            MethodNode m = cn?.methods?.find { MethodNode mn ->
                mn.name == name && arity <= mn.parameters.length &&
                    arity >= mn.parameters.count { !it.hasInitialExpression() }
            }
            if (m == null) {
                return null
            }
            List<Parameter> used = m.parameters.findAll { !it.hasInitialExpression() } +
                m.parameters.findAll { it.hasInitialExpression() }.take(arity - m.parameters.count { !it.hasInitialExpression() })
            List<Parameter> ordered = m.parameters.findAll { it in used }
            String kind = m.isStatic() ? 'staticMethod' : 'method'
            return [signature: "${kind} ${cn.name} ${name}${ordered.collect { ' ' + it.type.name }.join('')}".toString(),
                    certain  : true]
        }

        /** An unqualified call: the class's own method (nothing to approve), a library step, a directive or a step. */
        Map implicitSignature(String name) {
            if (classNode.getMethods(name) || (classNode.outerClass?.getMethods(name))) {
                return [signature: null, certain: true, own: true]
            }
            String kind = name in varNames ? 'var' : name in DSL ? 'dsl' : 'step'
            return [signature: "${kind} ${name}".toString(), certain: true]
        }

        static boolean isThis(Expression e) {
            return e instanceof VariableExpression && (e.name == 'this' || e.name == 'super')
        }

        // ---- the transformation --------------------------------------------------------------

        Expression check(String method, List<Expression> args) {
            return new StaticMethodCallExpression(CHECK, method, new ArgumentListExpression(args))
        }

        Expression array(List<Expression> items) {
            return new ArrayExpression(ClassHelper.OBJECT_TYPE, items)
        }

        List<Expression> transformedArgs(Expression args) {
            return argumentsOf(args).collect { Expression a -> transform(a) }
        }

        Expression positioned(Expression replacement, Expression original) {
            replacement.setSourcePosition(original)
            return replacement
        }

        @Override
        Expression transform(Expression exp) {
            if (exp == null) {
                return null
            }
            if (exp instanceof ClosureExpression) {
                exp.code.visit(this)
                return exp
            }
            if (exp instanceof MethodCallExpression) {
                return methodCall((MethodCallExpression) exp)
            }
            if (exp instanceof StaticMethodCallExpression) {
                StaticMethodCallExpression s = (StaticMethodCallExpression) exp
                record(s, 'own', s.method, [signature: null, certain: true, own: true])
                return s.transformExpression(this)
            }
            if (exp instanceof ConstructorCallExpression) {
                return constructorCall((ConstructorCallExpression) exp)
            }
            if (exp instanceof DeclarationExpression) {
                DeclarationExpression d = (DeclarationExpression) exp
                if (d.leftExpression instanceof VariableExpression) {
                    Object rt = typeOf(d.rightExpression)
                    Expression rhs = transform(d.rightExpression)
                    if (d.variableExpression.originType.name in ['boolean', 'java.lang.Boolean'] && rt != Boolean) {
                        String k = record(d.rightExpression, 'asBoolean', 'asBoolean',
                            rt instanceof Class ? Signatures.method((Class) rt, 'asBoolean', []) : null)
                        if (rewrite) {
                            rhs = check('castBoolean', [rhs, new ConstantExpression(k)])
                        }
                    }
                    DeclarationExpression out = new DeclarationExpression(d.variableExpression, d.operation, rhs)
                    out.setSourcePosition(d)
                    return out
                }
                return exp.transformExpression(this)
            }
            if (exp instanceof AttributeExpression || exp instanceof MethodPointerExpression || exp instanceof SpreadExpression ||
                exp instanceof RangeExpression) {
                record(exp, 'unsupported', exp.class.simpleName, null)
                return exp.transformExpression(this)
            }
            if (exp instanceof PropertyExpression) {
                return propertyGet((PropertyExpression) exp)
            }
            if (exp instanceof BinaryExpression) {
                return binary((BinaryExpression) exp)
            }
            if (exp instanceof PostfixExpression || exp instanceof PrefixExpression) {
                return increment(exp)
            }
            if (exp instanceof CastExpression) {
                return cast((CastExpression) exp)
            }
            if (exp instanceof VariableExpression) {
                VariableExpression v = (VariableExpression) exp
                if (v.accessedVariable instanceof DynamicVariable && !isThis(v) && !ownField(v.name)) {
                    String kind = v.name in varNames ? 'var' : v.name in DSL ? 'dsl' : 'global'
                    record(v, 'global', v.name, [signature: "${kind} ${v.name}".toString(), certain: true])
                }
                return exp
            }
            return exp.transformExpression(this)
        }

        Expression methodCall(MethodCallExpression m) {
            String name = m.methodAsString
            if (name == null) {
                record(m, 'unsupported', 'dynamic method name', null)
                return m.transformExpression(this)
            }
            if (m.implicitThis || isThis(m.objectExpression)) {
                record(m, 'implicit', name, implicitSignature(name))
                MethodCallExpression out = new MethodCallExpression(transform(m.objectExpression), m.method,
                    new ArgumentListExpression(transformedArgs(m.arguments)))
                out.implicitThis = m.implicitThis
                out.safe = m.safe
                out.spreadSafe = m.spreadSafe
                out.setSourcePosition(m)
                return out
            }
            if (m.spreadSafe) {
                record(m, 'unsupported', "spread call *.${name}", null)
                return m.transformExpression(this)
            }
            boolean isStatic = m.objectExpression instanceof ClassExpression
            String k = record(m, isStatic ? 'staticMethod' : 'method', name, resolveMethod(m.objectExpression, name, m.arguments))
            if (!rewrite) {
                return m.transformExpression(this)
            }
            if (isStatic) {
                return positioned(check('staticCall', [m.objectExpression, new ConstantExpression(name),
                                                       array(transformedArgs(m.arguments)), new ConstantExpression(k)]), m)
            }
            return positioned(check('call', [transform(m.objectExpression), new ConstantExpression(m.safe),
                                             new ConstantExpression(name), array(transformedArgs(m.arguments)),
                                             new ConstantExpression(k)]), m)
        }

        Expression constructorCall(ConstructorCallExpression c) {
            if (c.isSpecialCall()) {
                return c.transformExpression(this)
            }
            Object type = classOf(c.type)
            Map resolved = type instanceof Class ? Signatures.constructor((Class) type, argTypes(c.arguments)) :
                type instanceof OwnType ? [signature: "new ${c.type.name}".toString(), certain: true] : null
            String k = record(c, 'new', c.type.name, resolved)
            if (!rewrite) {
                return c.transformExpression(this)
            }
            return positioned(check('construct', [new ClassExpression(c.type), array(transformedArgs(c.arguments)),
                                                  new ConstantExpression(k)]), c)
        }

        Map resolveProperty(Expression receiverExpr, String name, boolean set, Expression value) {
            Object receiver = typeOf(receiverExpr)
            if (receiver instanceof OwnType) {
                String kind = receiverExpr instanceof ClassExpression ? 'staticField' : 'field'
                return [signature: "${kind} ${((OwnType) receiver).name} ${name}".toString(), certain: true]
            }
            if (receiver instanceof Class) {
                if (receiverExpr instanceof ClassExpression) {
                    return [signature: "staticField ${Signatures.name((Class) receiver)} ${name}".toString(), certain: true]
                }
                return set ? Signatures.propertySet((Class) receiver, name, toClass(typeOf(value))) :
                    Signatures.propertyGet((Class) receiver, name)
            }
            return null
        }

        Expression propertyGet(PropertyExpression p) {
            String name = p.propertyAsString
            if (isThis(p.objectExpression)) {
                return p.transformExpression(this)
            }
            if (name == null || p.spreadSafe) {
                record(p, 'unsupported', name == null ? 'dynamic property name' : "spread property *.${name}", null)
                return p.transformExpression(this)
            }
            String k = record(p, 'property', name, resolveProperty(p.objectExpression, name, false, null))
            if (!rewrite) {
                return p.transformExpression(this)
            }
            return positioned(check('getProperty', [transform(p.objectExpression), new ConstantExpression(p.safe),
                                                    new ConstantExpression(name), new ConstantExpression(k)]), p)
        }

        Expression binary(BinaryExpression b) {
            int op = b.operation.type
            Expression left = b.leftExpression
            Expression right = b.rightExpression
            if (op == Types.ASSIGN) {
                if (left instanceof PropertyExpression && !isThis(((PropertyExpression) left).objectExpression) &&
                    !(left instanceof AttributeExpression)) {
                    PropertyExpression p = (PropertyExpression) left
                    String k = record(p, 'property=', p.propertyAsString, resolveProperty(p.objectExpression, p.propertyAsString, true, right))
                    if (!rewrite) {
                        transform(p.objectExpression)  // (the target itself is not a get)
                        transform(right)
                        return b
                    }
                    return positioned(check('setProperty', [transform(p.objectExpression), new ConstantExpression(p.propertyAsString),
                                                            transform(right), new ConstantExpression(k)]), b)
                }
                if (left instanceof BinaryExpression && left.operation.type == Types.LEFT_SQUARE_BRACKET) {
                    BinaryExpression idx = (BinaryExpression) left
                    String k = record(idx, 'putAt', 'putAt', resolveMethod(idx.leftExpression, 'putAt',
                        new ArgumentListExpression([idx.rightExpression, right])))
                    if (!rewrite) {
                        transform(idx.leftExpression)
                        transform(idx.rightExpression)
                        transform(right)
                        return b
                    }
                    return positioned(check('putAt', [transform(idx.leftExpression), transform(idx.rightExpression), transform(right),
                                                      new ConstantExpression(k)]), b)
                }
                BinaryExpression out = new BinaryExpression(left, b.operation, transform(right))
                out.setSourcePosition(b)
                return out
            }
            if (COMPOUND.containsKey(op)) {
                String name = OPERATORS[COMPOUND[op]]
                if (!(left instanceof VariableExpression)) {
                    record(b, 'unsupported', "compound assignment to ${left.class.simpleName}", null)
                    return b.transformExpression(this)
                }
                String k = record(b, 'operator', name, resolveMethod(left, name, new ArgumentListExpression([right])))
                if (!rewrite) {
                    return b.transformExpression(this)
                }
                Expression value = check('binary', [left, new ConstantExpression(name), transform(right), new ConstantExpression(k)])
                return positioned(new BinaryExpression(left, Token.newSymbol(Types.ASSIGN, b.operation.startLine, b.operation.startColumn),
                    value), b)
            }
            if (op == Types.LEFT_SQUARE_BRACKET) {
                String k = record(b, 'getAt', 'getAt', resolveMethod(left, 'getAt', new ArgumentListExpression([right])))
                if (!rewrite) {
                    return b.transformExpression(this)
                }
                return positioned(check('getAt', [transform(left), transform(right), new ConstantExpression(k)]), b)
            }
            if (op == Types.LOGICAL_AND || op == Types.LOGICAL_OR || op == Types.KEYWORD_INSTANCEOF) {
                return b.transformExpression(this)
            }
            if (op == Types.KEYWORD_IN) {
                String k = record(b, 'operator', 'isCase', resolveMethod(right, 'isCase', new ArgumentListExpression([left])))
                if (!rewrite) {
                    return b.transformExpression(this)
                }
                return positioned(check('call', [transform(right), ConstantExpression.PRIM_FALSE, new ConstantExpression('isCase'),
                                                 array([transform(left)]), new ConstantExpression(k)]), b)
            }
            if (REGEX.containsKey(op)) {
                String name = REGEX[op]
                String k = record(b, 'operator', name, Signatures.staticMethod(ScriptBytecodeAdapter, name, [Object, Object]))
                if (!rewrite) {
                    return b.transformExpression(this)
                }
                return positioned(check('staticCall', [new ClassExpression(ClassHelper.make(ScriptBytecodeAdapter)),
                                                       new ConstantExpression(name), array([transform(left), transform(right)]),
                                                       new ConstantExpression(k)]), b)
            }
            if (COMPARISONS.containsKey(op)) {
                Object lt = typeOf(left)
                Map resolved = null
                if (lt == NullType) {
                    resolved = [signature: null, certain: true, nothing: true]
                } else if (lt instanceof Class && (Comparable.isAssignableFrom((Class) lt) || !((Class) lt).isInterface())) {
                    String m = Comparable.isAssignableFrom((Class) lt) ? 'compareTo' : 'equals'
                    resolved = Signatures.method((Class) lt, m, [toClass(typeOf(right))])
                } else {
                    // a Comparable left operand calls compareTo (declared first by Comparable), any other
                    // equals (declared first by Object): one of the two, whatever the run-time class
                    resolved = [signature: COMPARE_TO, signatures: [COMPARE_TO, EQUALS], certain: true]
                }
                String k = record(b, 'comparison', COMPARISONS[op], resolved)
                if (!rewrite) {
                    return b.transformExpression(this)
                }
                return positioned(check('compare', [transform(left), new ConstantExpression(COMPARISONS[op]), transform(right),
                                                    new ConstantExpression(k)]), b)
            }
            if (OPERATORS.containsKey(op)) {
                String name = OPERATORS[op]
                String k = record(b, 'operator', name, resolveMethod(left, name, new ArgumentListExpression([right])))
                if (!rewrite) {
                    return b.transformExpression(this)
                }
                return positioned(check('binary', [transform(left), new ConstantExpression(name), transform(right),
                                                   new ConstantExpression(k)]), b)
            }
            record(b, 'unsupported', "operator ${b.operation.text}", null)
            return b.transformExpression(this)
        }

        /** i++ and friends on a local variable: i = i.next() (the value of the expression is the new one). */
        Expression increment(Expression e) {
            Expression atom = e instanceof PostfixExpression ? e.expression : ((PrefixExpression) e).expression
            Token op = e instanceof PostfixExpression ? e.operation : ((PrefixExpression) e).operation
            String name = op.type == Types.PLUS_PLUS ? 'next' : 'previous'
            if (!(atom instanceof VariableExpression) || e instanceof PrefixExpression && false) {
                record(e, 'unsupported', "${name} on ${atom.class.simpleName}", null)
                return e.transformExpression(this)
            }
            String k = record(e, 'operator', name, resolveMethod(atom, name, new ArgumentListExpression()))
            if (!rewrite) {
                return e.transformExpression(this)
            }
            return positioned(new BinaryExpression(atom, Token.newSymbol(Types.ASSIGN, op.startLine, op.startColumn),
                check('call', [atom, ConstantExpression.PRIM_FALSE, new ConstantExpression(name), array([]), new ConstantExpression(k)])), e)
        }

        Expression cast(CastExpression c) {
            if (c.type.name in ['boolean', 'java.lang.Boolean'] && typeOf(c.expression) != Boolean) {
                Object t = typeOf(c.expression)
                Map resolved = t instanceof Class ? Signatures.method((Class) t, 'asBoolean', []) : null
                String k = record(c, 'asBoolean', 'asBoolean', resolved)
                if (!rewrite) {
                    return c.transformExpression(this)
                }
                CastExpression out = new CastExpression(c.type, check('castBoolean', [transform(c.expression), new ConstantExpression(k)]))
                out.setSourcePosition(c)
                return out
            }
            return c.transformExpression(this)
        }
    }

    /** The static type of a library class (its ClassNode is being compiled, so there is no Class yet). */
    static class OwnType {
        final String name

        OwnType(String name) {
            this.name = name
        }

        boolean equals(Object o) {
            return o instanceof OwnType && o.name == name
        }

        int hashCode() {
            return name.hashCode()
        }
    }

    /** The static type of the null literal. */
    static final class NullType {
    }
}

import org.codehaus.groovy.ast.ClassNode
import org.codehaus.groovy.ast.CodeVisitorSupport
import org.codehaus.groovy.ast.MethodNode
import org.codehaus.groovy.ast.Variable
import org.codehaus.groovy.ast.expr.ClosureExpression
import org.codehaus.groovy.ast.expr.DeclarationExpression
import org.codehaus.groovy.ast.expr.MethodCallExpression
import org.codehaus.groovy.ast.expr.TupleExpression
import org.codehaus.groovy.ast.expr.VariableExpression
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.Phases
import org.codehaus.groovy.control.customizers.ImportCustomizer

/**
 * Declarative's script-splitting transformation (SCRIPT_SPLITTING_TRANSFORMATION, the usual cure
 * for "Method code too large") moves the blocks of `pipeline { }` into generated methods, where
 * the local variables of the method that contains the block are out of scope (fields and methods
 * of the script are not). This finds the locals (and parameters) of that method that the block
 * uses: each would be a MissingPropertyException with splitting on.
 */
class ScriptSplitting {
    static List<String> localsUsedInPipeline(String name, String source) {
        CompilerConfiguration cc = new CompilerConfiguration()
        cc.addCompilationCustomizers(new ImportCustomizer().addImports('com.cloudbees.groovy.cps.NonCPS'))
        GroovyClassLoader gcl = new GroovyClassLoader(ScriptSplitting.classLoader, cc)
        if (PipelineHarness.repo) {
            gcl.addClasspath(PipelineHarness.repoFile('src').absolutePath)
        }
        CompilationUnit cu = new CompilationUnit(cc, null, gcl)
        cu.addSource(name, source)
        cu.compile(Phases.CANONICALIZATION)
        List<String> found = []
        cu.AST.classes.each { ClassNode cn ->
            cn.methods.each { MethodNode m -> found.addAll(check(m)) }
        }
        return found
    }

    private static List<String> check(MethodNode method) {
        Set<Variable> locals = Collections.newSetFromMap(new IdentityHashMap<Variable, Boolean>())
        locals.addAll(method.parameters as List)
        List<ClosureExpression> pipelines = []
        method.code?.visit(new CodeVisitorSupport() {
            @Override
            void visitDeclarationExpression(DeclarationExpression d) {
                if (d.leftExpression instanceof VariableExpression) {
                    locals << (VariableExpression) d.leftExpression
                } else if (d.leftExpression instanceof TupleExpression) {
                    ((TupleExpression) d.leftExpression).expressions.each { locals << (VariableExpression) it }
                }
                super.visitDeclarationExpression(d)
            }

            @Override
            void visitMethodCallExpression(MethodCallExpression call) {
                if (call.implicitThis && call.methodAsString == 'pipeline') {
                    TupleExpression args = (TupleExpression) call.arguments
                    pipelines.addAll(args.expressions.findAll { it instanceof ClosureExpression } as List<ClosureExpression>)
                    return
                }
                super.visitMethodCallExpression(call)
            }
        })
        List<String> used = []
        pipelines.each { ClosureExpression block ->
            block.code.visit(new CodeVisitorSupport() {
                @Override
                void visitVariableExpression(VariableExpression v) {
                    if (v.accessedVariable != null && locals.contains(v.accessedVariable)) {
                        used << "${v.name} (line ${v.lineNumber})".toString()
                    }
                }
            })
        }
        return used
    }
}

import org.jenkinsci.plugins.scriptsecurity.sandbox.RejectedAccessException
import org.jenkinsci.plugins.workflow.steps.FlowInterruptedException

/**
 * A small interpreter for declarative `pipeline { }` blocks: it parses agent, options,
 * environment, parameters, triggers, stages (with when, options, input, steps, post, nested
 * stages) and post, then runs the stages in order the way Jenkins does: `when` decides, a
 * failure skips the rest, post conditions run, the build result follows. Steps inside `steps`
 * resolve to the harness' fake steps. Enough to test which stages run for which branch.
 */
class Declarative {
    final PipelineHarness h
    Object agent
    List<Map> options = []
    Map environment = [:]
    List<Map> parameters = []
    List<Map> triggers = []
    List<Stage> stages = []
    Map<String, Closure> post = [:]
    /** [name:, status: success|failed|aborted|skipped|skipped-after-failure, path:] in run order. */
    List<Map> executed = []
    Throwable failure

    Declarative(PipelineHarness h) {
        this.h = h
    }

    static class Stage {
        String name
        Object agent
        List<Closure> conditions = []
        Map<String, Boolean> flags = [:]
        List<Map> options = []
        Map environment = [:]
        Map input
        Closure steps
        List<Stage> stages = []
        boolean parallel
        Map<String, Closure> post = [:]

        Map timeout() {
            Map t = options.find { it.name == 'timeout' }
            return t ? (Map) t.args[0] : null
        }
    }

    // ---- parsing ---------------------------------------------------------------------------

    /** Evaluates a section closure against a delegate, then gives the closure back its owner. */
    static Object parseWith(Closure c, Object delegate) {
        Object saved = c.delegate
        int strategy = c.resolveStrategy
        c.delegate = delegate
        c.resolveStrategy = Closure.DELEGATE_FIRST
        try {
            c.call()
        } finally {
            c.delegate = saved
            c.resolveStrategy = strategy
        }
        return delegate
    }

    class PipelineSection {
        String getAny() { 'any' }

        String getNone() { 'none' }

        void agent(Object spec) { Declarative.this.agent = agentSpec(spec) }

        void options(Closure c) { Declarative.this.options.addAll(((DslRecorder) parseWith(c, new DslRecorder())).calls) }

        void environment(Closure c) { Declarative.this.environment.putAll(((DslRecorder) parseWith(c, new DslRecorder())).assignments) }

        void parameters(Closure c) { Declarative.this.parameters.addAll(((DslRecorder) parseWith(c, new DslRecorder())).calls) }

        void triggers(Closure c) { Declarative.this.triggers.addAll(((DslRecorder) parseWith(c, new DslRecorder())).calls) }

        void tools(Closure c) { parseWith(c, new DslRecorder()) }

        void stages(Closure c) { Declarative.this.stages.addAll(((StagesSection) parseWith(c, new StagesSection())).stages) }

        void post(Closure c) { Declarative.this.post.putAll(((DslPost) parseWith(c, new DslPost())).blocks) }
    }

    static Object agentSpec(Object spec) {
        if (spec instanceof Closure) {
            DslRecorder r = (DslRecorder) parseWith((Closure) spec, new DslRecorder())
            return r.calls.collectEntries { [(it.name): it.args.size() == 1 ? it.args[0] : it.args] }
        }
        return spec
    }

    class StagesSection {
        List<Stage> stages = []

        void stage(String name, Closure c) {
            Stage s = new Stage(name: name)
            parseWith(c, new StageSection(s))
            stages << s
        }
    }

    class StageSection {
        final Stage s

        StageSection(Stage s) { this.s = s }

        String getAny() { 'any' }

        String getNone() { 'none' }

        void agent(Object spec) { s.agent = agentSpec(spec) }

        void when(Closure c) {
            WhenSection w = (WhenSection) parseWith(c, new WhenSection())
            s.conditions.addAll(w.conditions)
            s.flags.putAll(w.flags)
        }

        void options(Closure c) { s.options.addAll(((DslRecorder) parseWith(c, new DslRecorder())).calls) }

        void environment(Closure c) { s.environment.putAll(((DslRecorder) parseWith(c, new DslRecorder())).assignments) }

        void input(Closure c) {
            DslRecorder r = (DslRecorder) parseWith(c, new DslRecorder())
            s.input = r.calls.collectEntries { [(it.name): it.args[0]] }
        }

        void steps(Closure c) { s.steps = c }

        void stages(Closure c) { s.stages.addAll(((StagesSection) parseWith(c, new StagesSection())).stages) }

        void parallel(Closure c) {
            s.parallel = true
            s.stages.addAll(((StagesSection) parseWith(c, new StagesSection())).stages)
        }

        void post(Closure c) { s.post.putAll(((DslPost) parseWith(c, new DslPost())).blocks) }

        void tools(Closure c) { parseWith(c, new DslRecorder()) }

        void failFast(boolean b) { }
    }

    class WhenSection {
        List<Closure> conditions = []
        Map<String, Boolean> flags = [:]

        void branch(String pattern) {
            conditions << { -> antMatch(pattern, Declarative.this.h.effectiveEnv().BRANCH_NAME) }
        }

        void changeRequest(Map args = [:]) {
            conditions << { -> Declarative.this.h.effectiveEnv().CHANGE_ID as boolean }
        }

        void buildingTag() {
            conditions << { -> Declarative.this.h.effectiveEnv().TAG_NAME as boolean }
        }

        void tag(String pattern) {
            conditions << { -> Declarative.this.h.effectiveEnv().TAG_NAME && antMatch(pattern, Declarative.this.h.effectiveEnv().TAG_NAME) }
        }

        void environment(Map args) {
            conditions << { -> Declarative.this.h.effectiveEnv()[args.name] == args.value?.toString() }
        }

        void expression(Closure c) {
            conditions << { -> c.call() as boolean }
        }

        void not(Closure c) {
            WhenSection inner = (WhenSection) parseWith(c, new WhenSection())
            conditions << { -> !inner.conditions.every { it.call() } }
        }

        void allOf(Closure c) {
            WhenSection inner = (WhenSection) parseWith(c, new WhenSection())
            conditions << { -> inner.conditions.every { it.call() } }
        }

        void anyOf(Closure c) {
            WhenSection inner = (WhenSection) parseWith(c, new WhenSection())
            conditions << { -> inner.conditions.any { it.call() } }
        }

        void beforeAgent(boolean b) { flags.beforeAgent = b }

        void beforeInput(boolean b) { flags.beforeInput = b }

        void beforeOptions(boolean b) { flags.beforeOptions = b }
    }

    static boolean antMatch(String pattern, String value) {
        if (value == null) {
            return false
        }
        String rx = pattern.replace('.', '\\.').replace('**', '\u0001').replace('*', '[^/]*')
            .replace('\u0001', '.*').replace('?', '.')
        return value ==~ rx
    }

    /** What a `steps { }` block sees besides the steps: `script { }`. */
    static class StepsSection {
        def script(Closure c) {
            return c.call()
        }
    }

    // ---- running -----------------------------------------------------------------------------

    void run(Closure body) {
        parseWith(body, new PipelineSection())
        if (h.jenkins) {
            // Declarative applies job properties (options) when the pipeline runs
            h.jenkins.setConcurrentBuilds(h.build, !options.any { it.name == 'disableConcurrentBuilds' })
        }
        h.withOverlay(stringMap(environment)) {
            stages.each { runStage(it, '') }
        }
        runPost(post, buildOutcome())
    }

    private static Map stringMap(Map m) {
        return m.collectEntries { k, v -> [(k.toString()): v?.toString()] }
    }

    private String buildOutcome() {
        String r = h.currentBuild.currentResult
        return r == 'SUCCESS' ? 'success' : r == 'UNSTABLE' ? 'unstable' : r == 'ABORTED' ? 'aborted' : 'failed'
    }

    private final List<String> running = []

    /** A `stage('x') { }` step inside a declarative stage's steps (scripted, as Jenkins allows). */
    Object scriptedStage(String name, Closure body) {
        String path = (running + [name]).join('/')
        Map rec = [name: name, path: path, status: 'running', scripted: true]
        executed << rec
        running << name
        try {
            Object out = body.call()
            rec.status = 'success'
            return out
        } catch (Throwable e) {
            rec.status = 'failed'
            rec.error = e.message
            throw e
        } finally {
            running.remove(running.size() - 1)
        }
    }

    /**
     * A stage's `options { timeout }` wraps the whole stage, agent allocation included (Jenkins
     * starts it before asking for the agent); a busy pool (h.agentWaitMinutes) eats into it.
     */
    private boolean allocateAgent(Stage s) {
        Map t = s.timeout()
        if (t) {
            h.deadlines << [at: h.clock + PipelineHarness.minutes(t.time, t.unit), fired: false]
        }
        if (s.agent != null && s.agent != 'none') {
            h.advance(h.agentWaitMinutes)
            h.checkDeadlines()
        }
        return t != null
    }

    private void runStage(Stage s, String parent) {
        String path = parent ? "${parent}/${s.name}" : s.name
        if (failure != null) {
            executed << [name: s.name, path: path, status: 'skipped-after-failure']
            return
        }
        if (!s.conditions.every { it.call() }) {
            executed << [name: s.name, path: path, status: 'skipped']
            return
        }
        Map rec = [name: s.name, path: path, status: 'running', agent: s.agent, timeout: s.timeout()]
        executed << rec
        String outcome = 'success'
        running << s.name
        boolean stageDeadline = false
        try {
            stageDeadline = s.timeout() != null
            allocateAgent(s)
            h.withOverlay(stringMap(s.environment)) {
                if (s.input) {
                    h.dispatch('input', [s.input] as Object[])
                }
                if (s.stages) {
                    s.stages.each { runStage(it, path) }
                } else if (s.steps) {
                    parseWith(s.steps, new StepsSection())
                }
            }
            if (failure != null) {
                outcome = 'failed'
            }
        } catch (FlowInterruptedException e) {
            failure = e
            outcome = 'aborted'
            h.currentBuild.result = 'ABORTED'
            rec.error = e.message
        } catch (AssertionError e) {
            throw e
        } catch (RejectedAccessException e) {
            throw e  // the library made a call the sandbox would reject: fail the test with it
        } catch (Throwable e) {
            failure = e
            outcome = 'failed'
            h.currentBuild.result = 'FAILURE'
            rec.error = e.message
        } finally {
            running.remove(running.size() - 1)
            if (stageDeadline) {
                h.deadlines.remove(h.deadlines.size() - 1)
            }
        }
        rec.status = outcome
        runPost(s.post, outcome == 'success' && h.currentBuild.currentResult == 'UNSTABLE' ? 'unstable' : outcome)
    }

    private void runPost(Map<String, Closure> blocks, String outcome) {
        Map<String, Boolean> applies = [
            always      : true,
            success     : outcome == 'success',
            failure     : outcome == 'failed',
            aborted     : outcome == 'aborted',
            unstable    : outcome == 'unstable',
            unsuccessful: outcome != 'success',
            changed     : false, fixed: false, regression: false,
            cleanup     : true,
        ]
        DslPost.CONDITIONS.each { String name ->
            if (blocks[name] && applies[name]) {
                parseWith(blocks[name], new StepsSection())
            }
        }
    }

    // ---- queries for tests ---------------------------------------------------------------------

    List<String> ran() {
        return executed.findAll { !(it.status in ['skipped', 'skipped-after-failure']) }.collect { it.path }
    }

    List<String> skipped() {
        return executed.findAll { it.status == 'skipped' }.collect { it.path }
    }

    Map stage(String path) {
        return executed.find { it.path == path }
    }

    List<Stage> allStages() {
        List<Stage> out = []
        Closure walk
        walk = { List<Stage> list -> list.each { out << it; walk(it.stages) } }
        walk(stages)
        return out
    }
}

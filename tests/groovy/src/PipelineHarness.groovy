import groovy.json.JsonOutput
import groovy.json.JsonSlurper
import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.customizers.CompilationCustomizer
import org.codehaus.groovy.control.customizers.ImportCustomizer
import org.jenkinsci.plugins.credentialsbinding.impl.CredentialNotFoundException
import org.jenkinsci.plugins.workflow.steps.FlowInterruptedException

/**
 * Loads vars/*.groovy, src/ (and Jenkinsfiles) with Jenkins' Groovy version and runs them against
 * fake steps that record every call. A step that is not registered fails the test. The
 * workspace is a real temporary directory, so writeFile/readJSON/fileExists/stash see real files
 * and a test can even run the library's constant shell lines with a real shell.
 *
 * Realism where the recording alone would hide behaviour:
 * - the library is compiled with CallCheckTransformer: every call it makes is checked against
 *   tests/groovy/sandbox-allowlist.txt at run time (RejectedAccessException), as the
 *   script-security sandbox does for a folder-level library;
 * - a vars step is instantiated per calling script, as pipeline-groovy-lib caches it in the
 *   caller's binding (ecsDeploy and the Jenkinsfile get different pipelinePy instances);
 * - `timeout` bodies run against a clock (minutes) that responders and the agent queue advance;
 *   a stage's options timeout starts before its agent is allocated (agentWaitMinutes);
 * - an abort can arrive as FlowInterruptedException while `sh` runs (fakePipelinePy's abort);
 * - with a FakeJenkins, several builds run at once: queue, per-job milestones, lock, input.
 */
class PipelineHarness {
    /** The repository root (vars/, resources/); set by the runner. */
    static File repo

    private static final Map<String, Class> COMPILED = [:]
    private static GroovyClassLoader loader
    /** The names of the library's vars/ steps. */
    static Set<String> varNames

    final File workspace = File.createTempDir('pipeline-ws', '').canonicalFile
    final Map<String, String> buildEnv = [:]
    final List<Map> envStack = []
    final List<String> cwdStack = []
    final List<Map> calls = []
    final List<String> log = []
    final Map<String, Closure> steps = [:]
    /** The vars steps as the Jenkinsfile (or a test acting as one) sees them: one instance per name. */
    final Map<String, Object> vars = new VarsView(this)
    /** Every vars instance created: [name:, caller:] (caller: the script class whose binding caches it). */
    final List<Map> varInstances = []
    final Map<String, Map> credentials = [:]
    final Set<String> secrets = new LinkedHashSet<String>()
    final List<String> written = []
    final List<String> archived = []
    /** publishHTML calls: [name:, file: the report's canonical path]. */
    final List<Map> published = []
    final Map<String, Map<String, String>> stashes = [:]
    final List<Map> pipelinePyRuns = []
    final FakeBuild currentBuild = new FakeBuild()
    final Map params = [:]
    final Binding binding = new Binding()

    /** sh: (Map shArgs, Map env, File cwd) -> Integer status | String stdout | [status:, stdout:]. */
    Closure shHandler
    /** input: (Map args) -> value; throw FlowInterruptedException to reject. */
    Closure inputHandler = { Map args -> null }
    /** junit: (Object args) -> nothing; may set currentBuild.result. */
    Closure junitHandler = { Object args -> null }
    /**
     * Steps of plugins that are not installed: calling one throws what CPS throws for a step no
     * plugin provides, java.lang.NoSuchMethodError "No such DSL method ..." (DSL.invokeMethod).
     */
    final Set<String> missingPlugins = [] as Set
    /** What pwd() returns when set (a workspace reached through a symlink); else the real directory. */
    String pwdOverride
    Declarative declarative

    /** The clock of `timeout` steps, in minutes; responders may advance it. */
    double clock = 0
    /** How long a stage waits for an agent (a busy pool); the clock advances by it per agent allocation. */
    double agentWaitMinutes = 0
    /** The enclosing timeouts: [at: minutes on the clock, fired: once it has interrupted its body]. */
    final List<Map> deadlines = []
    /** Set when this harness runs one build of a FakeJenkins. */
    FakeJenkins jenkins
    FakeRun build

    PipelineHarness(Map envVars = [:]) {
        buildEnv.putAll([
            WORKSPACE   : workspace.absolutePath,
            BUILD_NUMBER: '42',
            BUILD_TAG   : 'jenkins-apps-task-api-main-42',
            JOB_NAME    : 'apps/task-api/main',
            BUILD_URL   : currentBuild.absoluteUrl,
            NODE_NAME   : 'agent-1',
            PATH        : System.getenv('PATH'),
            HOME        : System.getenv('HOME'),
        ])
        envVars.each { k, v -> buildEnv[k.toString()] = v == null ? null : v.toString() }
        binding.setVariable('__harness', this)
        binding.setVariable('env', new FakeEnv(this))
        binding.setVariable('currentBuild', currentBuild)
        binding.setVariable('params', params)
        binding.setVariable('scm', [$class: 'GitSCM', userRemoteConfigs: [[url: 'https://git.example.com/task-api.git']]])
        registerDefaultSteps()
        varNames()
    }

    static synchronized Set<String> varNames() {
        if (varNames == null) {
            varNames = repoFile('vars').listFiles().findAll { it.name.endsWith('.groovy') }.collect { it.name[0..-8] } as Set
            Signatures.isOwn = { Class c -> isOwnClass(c) }
        }
        return varNames
    }

    /** The library's own classes: vars scripts, src/ (io.pipelinepy), the Jenkinsfile, and their closures. */
    static boolean isOwnClass(Class c) {
        if (c == null) {
            return false
        }
        String outer = c.name.split(/\$/)[0]
        return outer in varNames() || outer.startsWith('io.pipelinepy.') || outer == 'Jenkinsfile'
    }

    /** A binding like the one Jenkins gives each script: the build's globals, no vars instances. */
    Binding newBinding() {
        Binding b = new Binding()
        ['__harness', 'env', 'currentBuild', 'params', 'scm'].each { b.setVariable(it, binding.getVariable(it)) }
        return b
    }

    /**
     * The vars step `name` as `caller` sees it. Like pipeline-groovy-lib's
     * UserDefinedGlobalVariable.getValue: cached in the calling script's binding, created (with a
     * binding of its own) on first use. caller null: the Jenkinsfile's binding.
     */
    Object varFor(Script caller, String name) {
        Binding b = caller == null ? binding : caller.binding
        if (b.hasVariable(name)) {
            return b.getVariable(name)
        }
        Script s = (Script) compile(repoFile("vars/${name}.groovy")).newInstance()
        s.setBinding(newBinding())
        b.setVariable(name, s)
        varInstances << [name: name, caller: caller == null ? 'Jenkinsfile' : caller.getClass().name]
        return s
    }

    static File repoFile(String path) {
        return new File(repo, path)
    }

    // ---- loading -------------------------------------------------------------------------

    /** How the library is compiled: as Jenkins does (NonCPS imported) plus the sandbox check's rewriting. */
    static CompilerConfiguration libraryConfiguration(CompilationCustomizer check) {
        CompilerConfiguration cc = new CompilerConfiguration()
        cc.scriptBaseClass = HarnessScript.name
        cc.addCompilationCustomizers(new ImportCustomizer().addImports(
            'com.cloudbees.groovy.cps.NonCPS', 'org.jenkinsci.plugins.workflow.libs.Library'))
        cc.addCompilationCustomizers(check)
        return cc
    }

    static synchronized GroovyClassLoader loader() {
        if (loader == null) {
            CallCheckTransformer check = new CallCheckTransformer(true)
            check.varNames = varNames()
            loader = new GroovyClassLoader(PipelineHarness.classLoader, libraryConfiguration(check))
            loader.addClasspath(repoFile('src').absolutePath)
        }
        return loader
    }

    /** A repository file's path relative to the repository, or null for files elsewhere. */
    static String relativePath(File f) {
        String root = repo.canonicalPath + '/'
        String path = f.canonicalPath
        return path.startsWith(root) ? path.substring(root.length()) : null
    }

    /** Compiles a pipeline script once per JVM (a syntax error throws here). */
    static synchronized Class compile(File f, String libraryPath = null) {
        String key = f.canonicalPath + ':' + f.lastModified()
        if (!COMPILED.containsKey(key)) {
            String name = f.name.endsWith('.groovy') ? f.name[0..-8] : f.name.replaceAll(/[^A-Za-z0-9_]/, '_')
            String path = libraryPath ?: relativePath(f)
            if (path != null && (path.startsWith('vars/') || path == 'Jenkinsfile')) {
                CallCheckTransformer.LIBRARY_SOURCES[name] = path
            }
            COMPILED[key] = loader().parseClass(new GroovyCodeSource(f.getText('UTF-8'), name, '/groovy/script'))
        }
        return COMPILED[key]
    }

    Script instantiate(File f) {
        Script s = (Script) compile(f).newInstance()
        s.setBinding(binding)
        return s
    }

    /** Runs a Jenkinsfile's top-level code (which usually calls a vars step such as ecsPipeline). */
    Object runJenkinsfile(File f) {
        return instantiate(f).run()
    }

    // ---- dispatch and recording ----------------------------------------------------------

    /** A step or vars call from `caller` (null: the test). Interruptions and expired timeouts arrive here. */
    Object dispatch(String name, Object[] args, Script caller = null) {
        List argList = args as List
        if (build != null) {
            jenkins.checkInterrupt(build)
        }
        checkDeadlines()
        if (name in missingPlugins) {
            calls << [step: name, args: argList, cwd: cwdStack.join('/'), missing: true]
            throw new NoSuchMethodError("No such DSL method '${name}' found among steps ${(steps.keySet() - missingPlugins).sort()}")
        }
        if (steps.containsKey(name)) {
            Map call = [step: name, args: argList, cwd: cwdStack.join('/')]
            calls << call
            return steps[name].call(call)
        }
        if (name in varNames()) {
            calls << [step: name, args: argList, cwd: cwdStack.join('/'), var: true]
            return varFor(caller, name).invokeMethod('call', args)
        }
        throw new UnregisteredStepError("step '${name}' is not registered in the harness " +
            "(Jenkins would fail with: No such DSL method '${name}')")
    }

    void step(String name, Closure fake) {
        steps[name] = fake
    }

    List<Map> callsTo(String name) {
        return calls.findAll { it.step == name }
    }

    List<String> stepNames() {
        return calls.collect { it.step }
    }

    static Map named(Map call) {
        return call.args && call.args[0] instanceof Map ? (Map) call.args[0] : [:]
    }

    static Closure body(Map call) {
        return call.args && call.args[-1] instanceof Closure ? (Closure) call.args[-1] : null
    }

    // ---- environment, directories, files ------------------------------------------------

    Map<String, String> effectiveEnv() {
        Map<String, String> out = new LinkedHashMap<String, String>(buildEnv)
        envStack.each { out.putAll(it) }
        return out
    }

    File cwd() {
        File d = workspace
        cwdStack.each { d = new File(d, it) }
        return d
    }

    File file(String path) {
        File f = new File(path)
        return f.absolute ? f : new File(cwd(), path)
    }

    def withOverlay(Map vars, Closure body) {
        envStack << vars
        try {
            return body.call()
        } finally {
            envStack.remove(envStack.size() - 1)
        }
    }

    /** Files matching a comma-separated list of Ant-style patterns, relative to the current directory. */
    List<String> glob(String patterns) {
        File base = cwd()
        List<String> all = []
        if (base.exists()) {
            base.eachFileRecurse { File f ->
                if (f.isFile()) {
                    all << base.toPath().relativize(f.toPath()).toString()
                }
            }
        }
        List<String> out = []
        patterns.split(',').collect { it.trim() }.findAll { it }.each { String p ->
            String rx = p.replace('.', '\\.').replace('**/', '\u0001').replace('*', '[^/]*')
                .replace('\u0001', '(.*/)?').replace('?', '.')
            all.findAll { it ==~ rx }.each { if (!out.contains(it)) out << it }
        }
        return out.sort()
    }

    // ---- fakes of the Jenkins steps the library may use --------------------------------

    private void registerDefaultSteps() {
        step('echo') { Map c -> log << c.args[0].toString(); null }
        step('error') { Map c ->
            String msg = c.args[0].toString()
            log << ('ERROR: ' + msg)
            throw new AbortException(msg)
        }
        step('sh') { Map c -> runSh(c) }
        step('writeFile') { Map c ->
            Map a = named(c)
            assert a.file && a.text != null: "writeFile needs file and text: ${a}"
            File f = file(a.file.toString())
            f.parentFile.mkdirs()
            f.setText(a.text.toString(), (a.encoding ?: 'UTF-8').toString())
            written << f.absolutePath
            null
        }
        step('readFile') { Map c ->
            String path = c.args[0] instanceof Map ? named(c).file : c.args[0]
            File f = file(path.toString())
            if (!f.exists()) {
                throw new FileNotFoundException(f.path)
            }
            f.getText('UTF-8')
        }
        step('fileExists') { Map c ->
            String path = c.args[0] instanceof Map ? named(c).file : c.args[0]
            file(path.toString()).exists()
        }
        step('readJSON') { Map c ->
            Map a = named(c)
            String text = a.text != null ? a.text.toString() : file(a.file.toString()).getText('UTF-8')
            toPlain(new JsonSlurper().parseText(text))
        }
        step('libraryResource') { Map c ->
            String path = c.args[0] instanceof Map ? named(c).resource : c.args[0]
            File f = repoFile("resources/${path}")
            if (!f.isFile()) {
                throw new AbortException("No such library resource ${path} could be found.")
            }
            f.getText('UTF-8')
        }
        step('withEnv') { Map c ->
            Map overlay = [:]
            ((List) c.args[0]).each { Object item ->
                String s = item.toString()
                int i = s.indexOf('=')
                assert i > 0: "withEnv entries are KEY=VALUE, got '${s}'"
                overlay[s.substring(0, i)] = s.substring(i + 1)
            }
            withOverlay(overlay, body(c))
        }
        step('usernamePassword') { Map c -> [$type: 'usernamePassword'] + named(c) }
        step('string') { Map c -> [$type: 'string'] + named(c) }
        step('withCredentials') { Map c -> bindCredentials((List) c.args[0], body(c)) }
        step('archiveArtifacts') { Map c ->
            Map a = c.args[0] instanceof Map ? named(c) : [artifacts: c.args[0]]
            List<String> found = glob(a.artifacts.toString())
            if (!found && !a.allowEmptyArchive) {
                throw new AbortException("No artifacts found that match the file pattern \"${a.artifacts}\"")
            }
            archived.addAll(found)
            null
        }
        step('input') { Map c -> jenkins ? jenkins.input(build, named(c)) : inputHandler.call(named(c)) }
        step('lock') { Map c ->
            Map a = named(c)
            jenkins ? jenkins.lock(build, a.resource.toString(), a.inversePrecedence as boolean, body(c)) : body(c).call()
        }
        step('milestone') { Map c ->
            if (jenkins) {
                jenkins.milestone(build, named(c).ordinal as int)
            }
            null
        }
        step('timeout') { Map c ->
            Map a = named(c)
            deadlines << [at: clock + minutes(a.time, a.unit), fired: false]
            try {
                Object out = body(c).call()
                checkDeadlines()
                return out
            } finally {
                deadlines.remove(deadlines.size() - 1)
            }
        }
        step('dir') { Map c ->
            cwdStack << c.args[0].toString()
            try {
                return body(c).call()
            } finally {
                cwdStack.remove(cwdStack.size() - 1)
            }
        }
        step('pwd') { Map c -> pwdOverride ? (cwdStack ? "${pwdOverride}/${cwdStack.join('/')}" : pwdOverride) : cwd().absolutePath }
        step('publishHTML') { Map c ->
            Map t = (Map) named(c).target
            assert t != null && t.reportName && t.reportDir && t.reportFiles: "publishHTML(target: [reportName, reportDir, reportFiles, ...]): ${named(c)}"
            File d = file(t.reportDir.toString())
            if (!new File(d, t.reportFiles.toString()).isFile() && !t.allowMissing) {
                throw new AbortException("Specified HTML directory '${d}' does not exist or has no ${t.reportFiles}")
            }
            published << [name: t.reportName.toString(), file: new File(d, t.reportFiles.toString()).canonicalPath]
            null
        }
        step('catchError') { Map c ->
            Map a = named(c)
            try {
                return body(c).call()
            } catch (AssertionError e) {
                throw e
            } catch (org.jenkinsci.plugins.scriptsecurity.sandbox.RejectedAccessException e) {
                throw e
            } catch (Throwable e) {
                String result = a.containsKey('buildResult') ? a.buildResult : 'FAILURE'
                if (result && result != 'SUCCESS') {
                    currentBuild.result = result
                }
                log << ('catchError: ' + (a.message ?: e.message))
                return null
            }
        }
        step('stash') { Map c ->
            Map a = named(c)
            List<String> found = glob((a.includes ?: '**/*').toString())
            if (!found && !a.allowEmpty) {
                throw new AbortException("No files included in stash \u2018${a.name}\u2019")
            }
            stashes[a.name.toString()] = found.collectEntries { [(it): file(it).getText('UTF-8')] }
            null
        }
        step('unstash') { Map c ->
            String name = c.args[0] instanceof Map ? named(c).name : c.args[0]
            if (!stashes.containsKey(name)) {
                throw new AbortException("No such saved stash \u2018${name}\u2019")
            }
            stashes[name].each { String path, String text ->
                File f = file(path)
                f.parentFile.mkdirs()
                f.text = text
            }
            null
        }
        step('checkout') { Map c -> [GIT_COMMIT: '0123456789abcdef0123456789abcdef01234567', GIT_BRANCH: buildEnv.BRANCH_NAME] }
        step('junit') { Map c -> junitHandler.call(c.args[0]) }
        step('unstable') { Map c ->
            currentBuild.result = 'UNSTABLE'
            log << ('WARNING: ' + (c.args[0] instanceof Map ? named(c).message : c.args[0]))
            null
        }
        step('stage') { Map c -> declarative ? declarative.scriptedStage(c.args[0].toString(), body(c)) : body(c).call() }
        step('pipeline') { Map c ->
            declarative = new Declarative(this)
            declarative.run(body(c))
        }
    }

    /** timeout's time and unit in minutes. */
    static double minutes(Object time, Object unit) {
        double t = (time as double)
        switch ((unit ?: 'MINUTES').toString()) {
            case 'SECONDS': return t / 60
            case 'HOURS': return t * 60
            case 'DAYS': return t * 1440
            default: return t
        }
    }

    /** Lets time pass (a long sh, an agent queue); the next step of an expired timeout body is interrupted. */
    void advance(double minutes) {
        clock += minutes
    }

    /**
     * An expired timeout interrupts its body once (the steps of a catch or finally block still
     * run afterwards, as in Jenkins during the timeout's grace period).
     */
    void checkDeadlines() {
        Map expired = deadlines.find { !it.fired && clock > it.at }
        if (expired) {
            expired.fired = true
            throw new FlowInterruptedException("Timeout has been exceeded (${expired.at} min on the clock, now ${clock})")
        }
    }

    private Object runSh(Map c) {
        Map a = c.args[0] instanceof Map ? new LinkedHashMap(named(c)) : [script: c.args[0].toString()]
        c.env = effectiveEnv()
        c.script = a.script.toString()
        assert shHandler != null: "sh called but the test registered no sh handler: ${a.script}"
        def r = shHandler.call(a, c.env, cwd())
        int status = r instanceof Number ? ((Number) r).intValue() : r instanceof Map ? (r.status ?: 0) as int : 0
        String stdout = r instanceof CharSequence ? r.toString() : r instanceof Map ? (r.stdout ?: '').toString() : ''
        if (a.returnStatus) {
            return status
        }
        if (status != 0) {
            throw new AbortException("script returned exit code ${status}")
        }
        return a.returnStdout ? stdout : null
    }

    private Object bindCredentials(List bindings, Closure body) {
        Map overlay = [:]
        bindings.each { Map b ->
            String id = b.credentialsId
            Map cred = credentials[id]
            if (cred == null) {
                throw new CredentialNotFoundException("Could not find credentials entry with ID '${id}'")
            }
            if (b.$class == 'AmazonWebServicesCredentialsBinding') {
                requireType(id, cred, 'aws', 'AmazonWebServicesCredentials')
                overlay[b.accessKeyVariable] = cred.accessKey
                overlay[b.secretKeyVariable] = cred.secretKey
                secrets << cred.secretKey
            } else if (b.$type == 'usernamePassword') {
                requireType(id, cred, 'usernamePassword', 'StandardUsernamePasswordCredentials')
                overlay[b.usernameVariable] = cred.username
                overlay[b.passwordVariable] = cred.password
                secrets << cred.password
            } else if (b.$type == 'string') {
                requireType(id, cred, 'string', 'StringCredentials')
                overlay[b.variable] = cred.secret
                secrets << cred.secret
            } else {
                throw new AssertionError("unknown credential binding ${b}")
            }
        }
        return withOverlay(overlay, body)
    }

    private static void requireType(String id, Map cred, String type, String expected) {
        if (cred.type != type) {
            throw new CredentialNotFoundException("Credentials '${id}' is of type '${cred.type}' where '${expected}' was expected")
        }
    }

    // ---- test conveniences --------------------------------------------------------------

    void awsCredential(String id, String accessKey = 'AKIAEXAMPLEKEY', String secretKey = 's3cr3t/KEY+with$chars') {
        credentials[id] = [type: 'aws', accessKey: accessKey, secretKey: secretKey]
    }

    void usernamePasswordCredential(String id, String username, String password) {
        credentials[id] = [type: 'usernamePassword', username: username, password: password]
    }

    /**
     * `sh` behaves like install.sh + pipeline-py: the install prints an executable path; a run
     * (RUN_SCRIPT) removes a stale result and exit file as the script does, hands (command,
     * params, env) to the responder and writes its `result` to $PP_RESULT and the exit code to
     * $PP_EXIT; WAIT_SCRIPT (after an abort) reports $PP_EXIT, or 124 when there is none.
     * The responder (command, params, env[, cwd]) returns a result Map (exit 0) or
     * [code: N, result: Map-or-String-or-null] and optionally:
     *   abort: 'message'   the sh step is interrupted by an abort (FlowInterruptedException) while
     *                      pipeline-py runs; pipeline-py gets SIGTERM and goes on restoring
     *   finishes: false    ... and has not finished within the grace period (no result, no exit file)
     *   minutes: N         the run takes N minutes on the clock
     *   neverStarted: true the step's process never started (durable-task's exit -2): no files at all
     */
    void fakePipelinePy(Closure responder = { String cmd, Map p, Map e -> [:] }) {
        shHandler = { Map sh, Map env, File cwd ->
            if (env.PP_INSTALL) {
                assert new File(cwd, env.PP_INSTALL).text == repoFile('resources/pipeline-py/install.sh').text
                return [status: 0, stdout: "/opt/pipeline-py/${env.PIPELINE_PY_VERSION}/bin/pipeline-py\n"]
            }
            if (env.PP_GRACE) {
                File exit = new File(cwd, env.PP_EXIT)
                return [status: exit.isFile() ? (exit.text.trim() as int) : 124]
            }
            if (sh.script == 'pwd -P') {
                return [status: 0, stdout: cwd.canonicalPath + '\n']
            }
            assert env.PP_COMMAND: "unexpected sh outside pipelinePy: ${sh.script}"
            File result = new File(cwd, env.PP_RESULT)
            File exit = new File(cwd, env.PP_EXIT ?: (env.PP_RESULT + '.exit'))
            if (sh.script.contains('rm -f "$PP_RESULT"')) {
                result.delete()
                exit.delete()
            }
            Map params = (Map) toPlain(new JsonSlurper().parse(new File(cwd, env.PP_PARAMS)))
            def response = responder.maximumNumberOfParameters >= 4 ?
                responder.call(env.PP_COMMAND, params, env, cwd) : responder.call(env.PP_COMMAND, params, env)
            Map r = response instanceof Map && (response.containsKey('code') || response.containsKey('abort') ||
                response.containsKey('neverStarted')) ? (Map) response : [code: 0, result: response]
            pipelinePyRuns << [command: env.PP_COMMAND, params: params, env: env, cwd: cwd, code: r.code, aborted: r.abort != null]
            if (r.neverStarted) {
                return [status: -2]
            }
            if (r.minutes) {
                advance(r.minutes as double)
            }
            if (r.result != null && r.finishes != false) {
                result.parentFile.mkdirs()
                result.text = r.result instanceof CharSequence ? r.result.toString() : JsonOutput.toJson(r.result)
            }
            if (r.finishes != false) {
                exit.parentFile.mkdirs()
                exit.text = "${r.code ?: 0}\n"
            }
            if (r.abort) {
                throw new FlowInterruptedException(r.abort.toString())
            }
            checkDeadlines()  // a timeout that expired while pipeline-py ran interrupts the sh step
            return [status: r.code ?: 0]
        }
    }

    /** `sh` runs for real, as Jenkins does: the script in a file, `sh -xe`, the step's environment only. */
    void useRealShell() {
        shHandler = { Map sh, Map env, File cwd ->
            cwd.mkdirs()
            File script = File.createTempFile('script', '.sh', workspace)
            script.text = sh.script.toString()
            ProcessBuilder pb = new ProcessBuilder(['sh', '-xe', script.absolutePath]).directory(cwd)
            pb.environment().clear()
            env.each { k, v -> if (v != null) pb.environment().put(k.toString(), v.toString()) }
            Process p = pb.start()
            StringBuilder err = new StringBuilder()
            Thread t = Thread.start { err.append(p.errorStream.getText('UTF-8')) }
            String out = p.inputStream.getText('UTF-8')
            int status = p.waitFor()
            t.join()
            script.delete()
            err.toString().split('\n').each { if (it) log << it }
            return [status: status, stdout: out]
        }
    }

    List<String> commandsRun() {
        return pipelinePyRuns.collect { it.command }
    }

    /** Every place a bound secret shows up outside the sh step's environment. */
    List<String> secretLeaks() {
        List<String> places = []
        secrets.findAll { it }.each { String secret ->
            calls.eachWithIndex { Map c, int i ->
                Map visible = c.findAll { k, v -> k != 'env' }
                if (deepText(visible).contains(secret)) {
                    places << "call #${i} ${c.step}".toString()
                }
            }
            log.each { if (it.contains(secret)) places << "log: ${it}".toString() }
            if ((currentBuild.description ?: '').contains(secret)) {
                places << 'build description'
            }
            written.each { String path ->
                if (new File(path).text.contains(secret)) places << "file ${path}".toString()
            }
        }
        return places
    }

    private static String deepText(Object o) {
        if (o instanceof Map) {
            return o.collect { k, v -> "${k}=${deepText(v)}" }.join(',')
        }
        if (o instanceof Collection) {
            return o.collect { deepText(it) }.join(',')
        }
        if (o instanceof Closure) {
            return 'closure'
        }
        return String.valueOf(o)
    }

    static Object toPlain(Object o) {
        if (o instanceof Map) {
            Map m = new LinkedHashMap()
            o.each { k, v -> m[k.toString()] = toPlain(v) }
            return m
        }
        if (o instanceof List) {
            return o.collect { toPlain(it) }
        }
        return o
    }

    /** Runs a step of vars/ and returns what it returned, or the AbortException it raised. */
    Map attempt(Closure c) {
        try {
            return [value: c.call(), error: null]
        } catch (AbortException e) {
            return [value: null, error: e.message]
        } catch (FlowInterruptedException e) {
            return [value: null, error: null, interrupted: e.message]
        }
    }

    void cleanup() {
        workspace.deleteDir()
    }
}

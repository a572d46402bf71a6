import groovy.json.JsonOutput
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.Phases

/**
 * The script-security sandbox, checked without Jenkins. A folder-level library runs sandboxed:
 * every method, static method, constructor, property and operator call it makes must be allowed
 * by script-security's whitelists, or the build stops until an administrator approves it.
 *
 * Static half: every call site in vars/, src/ and the Jenkinsfile (CallCheckTransformer over
 * the AST), named from its declared types where they suffice. Run-time half: the harness compiles
 * the library with the same transformer, so during all the other tests every call is named from
 * its run-time types and rejected unless tests/groovy/sandbox-allowlist.txt lists it. This class
 * runs last (run.groovy) and requires both halves to agree with the allowlist.
 */
class SandboxTest {
    static final List<String> LIBRARY_DIRS = ['vars', 'src']

    /**
     * The static half: the library compiled up to CANONICALIZATION with the transformer in report
     * mode, each vars file and the Jenkinsfile on its own (as the harness and Jenkins compile
     * them: another step is a global variable there, not a class), src/ together.
     */
    static List<Map> staticSites() {
        CallCheckTransformer report = new CallCheckTransformer(false)
        report.varNames = PipelineHarness.varNames()
        Closure compileAlone = { Closure addSources ->
            GroovyClassLoader gcl = new GroovyClassLoader(PipelineHarness.classLoader,
                PipelineHarness.libraryConfiguration(new CallCheckTransformer(false)))
            gcl.addClasspath(PipelineHarness.repoFile('src').absolutePath)
            CompilationUnit cu = new CompilationUnit(PipelineHarness.libraryConfiguration(report), null, gcl)
            addSources.call(cu)
            cu.compile(Phases.CANONICALIZATION)
        }
        PipelineHarness.repoFile('vars').listFiles().findAll { it.name.endsWith('.groovy') }.sort { it.name }.each { File f ->
            String name = f.name[0..-8]
            CallCheckTransformer.LIBRARY_SOURCES[name] = "vars/${f.name}".toString()
            compileAlone { CompilationUnit cu -> cu.addSource(name, f.getText('UTF-8')) }
        }
        CallCheckTransformer.LIBRARY_SOURCES['Jenkinsfile'] = 'Jenkinsfile'
        compileAlone { CompilationUnit cu -> cu.addSource('Jenkinsfile', PipelineHarness.repoFile('Jenkinsfile').getText('UTF-8')) }
        compileAlone { CompilationUnit cu ->
            PipelineHarness.repoFile('src').eachFileRecurse { File f ->
                if (f.name.endsWith('.groovy')) {
                    cu.addSource(f)
                }
            }
        }
        return report.sites
    }

    Allowlist allowlist() {
        Allowlist a = Allowlist.load(PipelineHarness.repoFile(Allowlist.PATH))
        assert a.problems == []
        return a
    }

    void testTheAllowlistIsWellFormed() {
        Allowlist a = allowlist()
        assert a.entries.size() > 50
        a.entries.each { String sig, Map e ->
            assert sig ==~ /(method|staticMethod|new|field|staticField|step|dsl|global|var|number-math) \S.*/: sig
            assert e.where: "${sig}: say where the library uses it"
        }
    }

    void testANewCallIsRejectedWithTheSignatureAnAdministratorWouldApprove() {
        // what commonDefaults used to do: the copy constructor is not whitelisted, only HashMap's
        Map r = Signatures.constructor(LinkedHashMap, [LinkedHashMap])
        assert r.signature == 'new java.util.LinkedHashMap java.util.Map'
        assert !allowlist().permits(r.signature)
        assert Signatures.method(LinkedHashMap, 'putAll', [LinkedHashMap]).signature == 'method java.util.Map putAll java.util.Map'
        assert Signatures.method(ArrayList, 'collect', [Closure]).signature ==
            'staticMethod org.codehaus.groovy.runtime.DefaultGroovyMethods collect java.util.Collection groovy.lang.Closure'
        assert Signatures.staticMethod(Math, 'ceil', [Double]).signature == 'staticMethod java.lang.Math ceil double'
        assert Signatures.method(Integer, 'plus', [Integer]).signature == 'number-math plus'

        PipelineHarness h = new PipelineHarness()
        File f = File.createTempFile('zzRejected', '.groovy')
        try {
            f.text = 'Map call() { return new LinkedHashMap([a: 1]) }\n'
            Script s = (Script) PipelineHarness.compile(f, 'vars/zzRejected.groovy').newInstance()
            s.binding = h.newBinding()
            try {
                s.invokeMethod('call', [] as Object[])
                assert false: 'the sandbox check let an unlisted constructor through'
            } catch (org.jenkinsci.plugins.scriptsecurity.sandbox.RejectedAccessException e) {
                assert e.signature == 'new java.util.LinkedHashMap java.util.Map'
                assert e.message.startsWith('Scripts not permitted to use new java.util.LinkedHashMap java.util.Map (vars/zzRejected.groovy:1:')
            }
        } finally {
            f.delete()
            SandboxCheck.OBSERVED.keySet().removeAll { it.startsWith('vars/zzRejected.groovy') }
        }
    }

    /** Runs after every other test (run.groovy): each site's signatures are listed, and nothing listed is unused. */
    void testEveryCallTheLibraryMakesIsAllowlisted() {
        Allowlist a = allowlist()
        List<Map> sites = staticSites()
        boolean fullRun = System.getProperty('pipelinePy.fullRun') == 'true'
        Map<String, Set<String>> observed = SandboxCheck.OBSERVED
        List<String> problems = []
        Map<String, List<String>> used = [:].withDefault { [] }
        Set<String> keys = sites*.key as Set
        sites.each { Map site ->
            String where = site.key.toString().replaceFirst(/-\d+:\d+ /, ' ')
            if (site.kind == 'unsupported') {
                problems << "${where}: ${site.name} is not supported by the sandbox check: rewrite it (${site.text})".toString()
                return
            }
            if (site.signature == null && (site.own || site.nothing)) {
                return
            }
            Set<String> sigs = [] as Set
            if (site.signatures && site.certain) {
                sigs.addAll(site.signatures)
            }
            Set<String> seen = observed[site.key] ?: ([] as Set)
            sigs.addAll(seen)
            sigs.remove(SandboxCheck.NO_CHECK)
            if (!sigs && !seen) {
                if (fullRun) {
                    problems << ("${where}: `${site.text}` is only typed at run time and no test ran it: " +
                        'add a test, or declare the receiver\'s type').toString()
                }
                return
            }
            sigs.each { String sig ->
                used[sig] << where
                if (!a.permits(sig)) {
                    problems << "${where}: not in the allowlist: ${sig}".toString()
                }
            }
        }
        observed.keySet().findAll { !(it in keys) }.each {
            problems << "run-time site ${it} has no static counterpart (CallCheckTransformer is inconsistent)".toString()
        }
        if (fullRun) {
            a.entries.keySet().findAll { !used.containsKey(it) }.each {
                problems << "allowlist entry no longer used by the library: ${it} (remove it)".toString()
            }
        }
        String out = System.getenv('PIPELINE_PY_SANDBOX_REPORT')
        if (out) {
            new File(out).text = JsonOutput.prettyPrint(JsonOutput.toJson(
                used.collectEntries { String sig, List<String> where -> [(sig): [status: a.entries[sig]?.status, sites: where.unique()]] }))
        }
        assert problems == []: 'the sandbox would reject or cannot be checked:\n' + problems.unique().join('\n')
    }
}

// Runs every tests/groovy/cases/*Test.groovy in one JVM: each public no-argument method whose
// name starts with "test" is one test. Writes one JSON line per test to the results file and a
// summary to stdout; exits 1 when a test failed.
//
//   groovy -cp tests/groovy/src tests/groovy/run.groovy REPO RESULTS.jsonl [NAME-SUBSTRING]
import groovy.json.JsonOutput

import java.lang.reflect.InvocationTargetException
import java.lang.reflect.Modifier

File repo = new File(args[0]).canonicalFile
File results = new File(args[1])
String only = args.length > 2 ? args[2] : null
PipelineHarness.repo = repo

// the library's loader (src/ compiled with the sandbox check) is the parent: tests of src/ classes use those
GroovyClassLoader gcl = new GroovyClassLoader(PipelineHarness.loader())
// SandboxTest compares the calls every other test made with the allowlist: it runs last.
List<File> files = new File(repo, 'tests/groovy/cases').listFiles()
    .findAll { it.name.endsWith('Test.groovy') }
    .sort { File a, File b -> (a.name == 'SandboxTest.groovy') <=> (b.name == 'SandboxTest.groovy') ?: a.name <=> b.name }
System.setProperty('pipelinePy.fullRun', only ? 'false' : 'true')

int passed = 0
int failed = 0
long start = System.nanoTime()
results.withWriter('UTF-8') { out ->
    Closure report = { String id, String status, String message, double seconds ->
        out.println(JsonOutput.toJson([id: id, status: status, message: message, seconds: seconds]))
        out.flush()
        if (status == 'pass') {
            passed++
        } else {
            failed++
            println "FAIL ${id}\n${message}\n"
        }
    }
    files.each { File f ->
        String className = f.name[0..-8]
        Class c
        try {
            c = gcl.parseClass(f)
        } catch (Throwable e) {
            report("${className}.<compile>", 'fail', e.toString(), 0)
            return
        }
        c.methods.findAll {
            it.name.startsWith('test') && it.parameterTypes.length == 0 && Modifier.isPublic(it.modifiers)
        }.sort { it.name }.each { m ->
            String id = "${c.simpleName}.${m.name}"
            if (only && !id.contains(only)) {
                return
            }
            long t0 = System.nanoTime()
            try {
                m.invoke(c.newInstance())
                report(id, 'pass', '', (System.nanoTime() - t0) / 1e9)
            } catch (Throwable e) {
                Throwable cause = e instanceof InvocationTargetException ? e.cause : e
                StringWriter sw = new StringWriter()
                cause.printStackTrace(new PrintWriter(sw))
                String trace = sw.toString().readLines().findAll {
                    !(it =~ /^\s+at (sun\.|java\.|jdk\.|org\.codehaus\.groovy\.|groovy\.lang\.)/)
                }.take(40).join('\n')
                report(id, 'fail', trace, (System.nanoTime() - t0) / 1e9)
            }
        }
    }
}
printf('%d passed, %d failed in %.1fs%n', passed, failed, (System.nanoTime() - start) / 1e9)
if (System.getenv('PIPELINE_PY_SANDBOX_OBSERVED')) {
    new File(System.getenv('PIPELINE_PY_SANDBOX_OBSERVED')).text = JsonOutput.toJson(SandboxCheck.OBSERVED)
}
System.exit(failed ? 1 : 0)

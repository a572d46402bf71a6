/**
 * tests/groovy/sandbox-allowlist.txt: every call signature the library makes, one per line,
 * `signature | status | where`, with the status recorded when the entry was checked against
 * script-security's published whitelists (see the file's header for the statuses).
 */
class Allowlist {
    static final String PATH = 'tests/groovy/sandbox-allowlist.txt'

    /** The statuses an entry may have; a signature of any other kind would need an administrator. */
    static final Map<String, String> STATUSES = [
        'generic-whitelist'   : "in script-security's generic-whitelist",
        'jenkins-whitelist'   : "in script-security's jenkins-whitelist",
        'workflow-cps'        : "allowed by workflow-cps' CpsWhitelist (env, steps, global variables)",
        '@Whitelisted'        : 'annotated @Whitelisted in its plugin (RunWrapper: currentBuild)',
        'own-class'           : "the library's own class (vars/, src/): ClassLoaderWhitelist",
        'number-math'         : 'arithmetic on a Number: allowed without a whitelist entry',
        'pipeline-step'       : 'a Pipeline step (CpsScript.invokeMethod; workflow-cps)',
        'declarative'         : 'a Declarative Pipeline section or directive (pipeline-model-definition)',
        'global-variable'     : 'a Pipeline global variable (workflow-cps GlobalVariable)',
        'library-var'         : "one of this library's own vars/ steps (pipeline-groovy-lib)",
    ]

    /** signature -> [status:, where:, line:] */
    final Map<String, Map> entries = new LinkedHashMap<String, Map>()
    final List<String> problems = []

    static Allowlist load(File f) {
        Allowlist a = new Allowlist()
        f.getText('UTF-8').readLines().eachWithIndex { String raw, int i ->
            String line = raw.trim()
            if (!line || line.startsWith('#')) {
                return
            }
            List<String> parts = line.split(/\s+\|\s+/) as List
            if (parts.size() != 3) {
                a.problems << "line ${i + 1}: expected 'signature | status | where', got '${line}'".toString()
                return
            }
            String sig = parts[0].trim()
            if (!STATUSES.containsKey(parts[1].trim())) {
                a.problems << "line ${i + 1}: unknown status '${parts[1]}' (known: ${STATUSES.keySet().join(', ')})".toString()
            }
            if (a.entries.containsKey(sig)) {
                a.problems << "line ${i + 1}: '${sig}' is listed twice".toString()
            }
            a.entries[sig] = [status: parts[1].trim(), where: parts[2].trim(), line: i + 1]
        }
        return a
    }

    boolean permits(String signature) {
        return entries.containsKey(signature)
    }
}

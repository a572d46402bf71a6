package io.pipelinepy

import com.cloudbees.groovy.cps.NonCPS
import groovy.json.JsonOutput

import java.util.regex.Matcher

/**
 * The params file a step hands to pipeline-py (`--params-file`): option names to JSON values,
 * `--set` overrides as `path=<JSON>`. Static, @NonCPS, generic-whitelist calls only.
 */
class Params implements Serializable {

    private static final long serialVersionUID = 1L

    /** The command's options plus the global ones (env, config, dry_run, set), keyed by option name. */
    @NonCPS
    static Map forCommand(Map opts) {
        Map out = [:]
        if (opts.env) {
            out.env = opts.env.toString()
        }
        if (opts.config) {
            out.config = opts.config.toString()
        }
        if (opts.dryRun) {
            out.dry_run = true
        }
        List sets = setEntries((Map) opts.set)
        if (sets) {
            out.set = sets
        }
        ((Map) opts.params).each { Object k, Object v ->
            if (v != null) {
                out[k.toString()] = plain(v)
            }
        }
        return out
    }

    /** [a: [b: 1]] -> ['a.b=1']; values are JSON, which pipeline-py reads as YAML, so types survive. */
    @NonCPS
    static List setEntries(Map set, String prefix = '') {
        List out = []
        (set ?: [:]).each { Object k, Object v ->
            String path = prefix ? "${prefix}.${k}".toString() : k.toString()
            if (v instanceof Map) {
                out.addAll(setEntries((Map) v, path))
            } else if (v != null) {
                out << "${path}=${json(plain(v))}".toString()
            }
        }
        return out
    }

    /**
     * JSON text of one value. JsonOutput.toJson is only called with the types the generic
     * whitelist allows it for (Map, String, Number, Boolean); lists are joined here.
     */
    @NonCPS
    static String json(Object v) {
        if (v == null) {
            return 'null'
        }
        if (v instanceof List) {
            return '[' + ((List) v).collect { Object x -> json(x) }.join(', ') + ']'
        }
        if (v instanceof Map) {
            return JsonOutput.toJson((Map) v)
        }
        if (v instanceof Number) {
            return JsonOutput.toJson((Number) v)
        }
        if (v instanceof Boolean) {
            return JsonOutput.toJson((Boolean) v)
        }
        return JsonOutput.toJson(v.toString())
    }

    /** GStrings become Strings (recursively) so the JSON carries exactly the characters the user wrote. */
    @NonCPS
    static Object plain(Object v) {
        if (v instanceof CharSequence) {
            return v.toString()
        }
        if (v instanceof Map) {
            Map m = [:]
            ((Map) v).each { Object k, Object x -> m[k.toString()] = plain(x) }
            return m
        }
        if (v instanceof List) {
            return ((List) v).collect { Object x -> plain(x) }
        }
        return v
    }

    /** maxP99Ms -> max_p99_ms: Jenkinsfile-style keys to pipeline.yaml's. */
    @NonCPS
    static String camelToSnake(String key) {
        return key.replaceAll(/([a-z0-9])([A-Z])/, '$1_$2').toLowerCase()
    }

    /** camelToSnake on every key of a (nested) Map. */
    @NonCPS
    static Map snakeKeys(Map m) {
        Map out = [:]
        m.each { Object k, Object v ->
            out[camelToSnake(k.toString())] = v instanceof Map ? snakeKeys((Map) v) : v
        }
        return out
    }

    /** The last non-blank line of a command's output (install.sh prints the executable last). */
    @NonCPS
    static String lastLine(String text) {
        List lines = (text ?: '').split('\n').collect { String line -> line.trim() }.findAll { String line -> line }
        return lines ? lines[-1] : null
    }

    /**
     * Whole seconds (rounded up) from pipeline-py's duration syntax: a number, or '250ms', '90s',
     * '15m', '2h', '1.5h'. Null when the value is missing or not a duration.
     */
    @NonCPS
    static Long seconds(Object value) {
        if (value instanceof Number) {
            return (long) Math.ceil(((Number) value).doubleValue())
        }
        String text = value == null ? '' : value.toString().trim()
        Matcher m = text =~ /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/
        if (!m.matches()) {
            return null
        }
        double n = m.group(1) as double
        String unit = m.group(2) ?: 's'
        double factor = unit == 'ms' ? 0.001d : unit == 'm' ? 60d : unit == 'h' ? 3600d : 1d
        return (long) Math.ceil(n * factor)
    }

}

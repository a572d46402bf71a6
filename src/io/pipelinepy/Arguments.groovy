package io.pipelinepy

import com.cloudbees.groovy.cps.NonCPS

/**
 * Checks the Map argument of a step against the step's defaults. Every method is static and
 * @NonCPS and calls only methods of script-security's generic whitelist (a folder-level library
 * runs in the sandbox, its src/ classes included): see tests/groovy/sandbox-allowlist.txt.
 */
class Arguments implements Serializable {

    private static final long serialVersionUID = 1L

    /** What a default of each type requires of a value, in the order they are checked. */
    static final List TYPES = [
        [Boolean, 'true or false'],
        [Number, 'a number'],
        [CharSequence, 'a string'],
        [List, 'a list'],
        [Map, 'a map'],
        [Closure, 'a closure'],
    ]

    /** Unknown keys, missing required values and values of the wrong type; null when the argument is fine. */
    @NonCPS
    static String problem(String step, Map args, Map defaults, List required) {
        Map given = args ?: [:]
        List unknown = given.keySet().findAll { Object k -> !defaults.containsKey(k) }
            .collect { Object k -> k.toString() }.sort()
        if (unknown) {
            String known = defaults.keySet().collect { Object k -> k.toString() }.sort().join(', ')
            String plural = unknown.size() > 1 ? 's' : ''
            String names = unknown.collect { String k -> "'${k}'" }.join(', ')
            return "${step}: unknown parameter${plural} ${names} (known: ${known})".toString()
        }
        for (Object key : required) {
            Object value = given[key]
            if (value == null || (value instanceof CharSequence && value.toString().trim().isEmpty())) {
                return "${step}: missing required parameter '${key}'".toString()
            }
        }
        for (Map.Entry e : given.entrySet()) {
            String wrong = typeProblem(defaults[e.key], e.value)
            if (wrong) {
                return "${step}: parameter '${e.key}' ${wrong}".toString()
            }
        }
        return null
    }

    /**
     * A default of a given type fixes the type of the value; a null default accepts anything.
     * The message names the expected and the actual type, never the value: a misplaced secret
     * must not end up in the build's error.
     */
    @NonCPS
    static String typeProblem(Object defaultValue, Object value) {
        if (defaultValue == null || value == null) {
            return null
        }
        for (Object check : TYPES) {
            Class type = (Class) ((List) check)[0]
            if (type.isInstance(defaultValue) && !type.isInstance(value)) {
                return "must be ${((List) check)[1]}, got ${typeName(value)}".toString()
            }
        }
        return null
    }

    /** A value's type in words a Jenkinsfile author recognises (GString is a string). */
    @NonCPS
    static String typeName(Object value) {
        if (value instanceof CharSequence) {
            return 'String'
        }
        return value.getClass().getSimpleName()
    }

    /** The defaults overlaid with the step's argument (a new Map; neither input changes). */
    @NonCPS
    static Map merged(Map defaults, Map args) {
        Map out = [:]
        out.putAll(defaults)
        if (args) {
            out.putAll(args)
        }
        return out
    }

    /** A step's `report` parameter: null means the step's default, true the default name, false none. */
    @NonCPS
    static String reportName(Object report, String defaultName, boolean onByDefault) {
        if (report == null) {
            return onByDefault ? defaultName : null
        }
        if (report instanceof Boolean) {
            return report ? defaultName : null
        }
        return report.toString()
    }

    /** pipelinePy's own checks: the command against the allow-list, the credential type, file and option names. */
    @NonCPS
    static String commandProblem(Map opts, List commands) {
        if (!(opts.command in commands)) {
            return "pipelinePy: unknown command '${opts.command}' (known: ${commands.join(', ')})".toString()
        }
        if (!(opts.awsCredentialsType in ['aws', 'usernamePassword'])) {
            return ("pipelinePy: awsCredentialsType must be 'aws' or 'usernamePassword', " +
                "not '${opts.awsCredentialsType}'").toString()
        }
        if (opts.report && !(opts.report.toString() ==~ /[A-Za-z0-9][A-Za-z0-9._-]*/)) {
            return "pipelinePy: report '${opts.report}' must be a plain file name".toString()
        }
        for (Object key : ((Map) opts.params).keySet()) {
            if (!(key.toString() ==~ /[a-z][a-z0-9_-]*/)) {
                return "pipelinePy: params key '${key}' is not an option name".toString()
            }
        }
        return null
    }

}

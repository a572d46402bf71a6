// Deploys an image (or a registered task definition) to the environment's ECS service with one of
// pipeline-py's strategies, waits and verifies, and rolls back by itself on failure. Archives the
// deploy result (with the canary analysis) and sets the build description. An abort or a stage
// timeout during the deploy is passed on to pipeline-py, which rolls back; the description then
// says what state it left (pipelinePy).
import groovy.transform.Field
import io.pipelinepy.HtmlReports
import io.pipelinepy.Params

// pipeline-py's strategies; the ecs-* ones are ECS' native deployment strategies (one service,
// ECS moves the listener-rule weights and pauses at pipeline-py's lifecycle hooks).
@Field static final List STRATEGIES = [
    'rolling', 'blue-green', 'canary', 'linear', 'ecs-blue-green', 'ecs-linear', 'ecs-canary',
]
@Field static final List NATIVE_STRATEGIES = ['ecs-blue-green', 'ecs-linear', 'ecs-canary']

// Strategy settings: parameter -> [the strategies it applies to, setting -> config path, and
// settings that apply to fewer strategies than the map: setting -> those strategies].
@Field static final Map SETTINGS = [
    rolling  : [strategies: ['rolling'], paths: [bakeSeconds: 'bake_seconds']],
    // ecs-canary and ecs-linear analyse at their PAUSE hooks with canary.bake_seconds and canary.analysis
    canary   : [strategies: ['canary', 'ecs-canary', 'ecs-linear'],
                paths     : [steps: 'canary.steps', bakeSeconds: 'canary.bake_seconds', analysis: 'canary.analysis'],
                only      : [steps: ['canary']]],
    linear   : [strategies: ['linear'], paths: [stepPercent: 'canary.linear_step', bakeSeconds: 'canary.bake_seconds',
                                                analysis: 'canary.analysis']],
    blueGreen: [strategies: ['blue-green'], paths: [testUrl: 'blue_green.test_url',
                                                    testListenerArn: 'blue_green.test_listener_arn',
                                                    scaleDownDelay: 'blue_green.scale_down_delay',
                                                    verifyRetries: 'blue_green.verify_retries']],
    // pipeline.yaml's `native` section (NativeConfig): ECS' own percentages, bake and hook timeouts
    native   : [strategies: ['ecs-blue-green', 'ecs-linear', 'ecs-canary'], paths: [
        canaryPercent         : 'native.canary_percent',
        linearStepPercent     : 'native.linear_step_percent',
        stepBakeMinutes       : 'native.step_bake_minutes',
        bakeMinutes           : 'native.bake_minutes',
        hookTimeoutMinutes    : 'native.hook_timeout_minutes',
        gateTimeoutMinutes    : 'native.gate_timeout_minutes',
        ecsAlarms             : 'native.ecs_alarms',
        testUrl               : 'native.test_url',
        alternateTargetGroup  : 'native.alternate_target_group',
        productionListenerRule: 'native.production_listener_rule',
        testListenerRule      : 'native.test_listener_rule',
        roleArn               : 'native.role_arn',
    ], only: [canaryPercent: ['ecs-canary'], linearStepPercent: ['ecs-linear']]],
]

Map call(Map args = [:]) {
    Map defaults = pipelinePy.commonDefaults() + [
        strategy: null,        // rolling | blue-green | canary | linear | ecs-* (default: the environment's)
        image: null,           // image reference to deploy, normally pushImage's result.image
        taskDefinition: null,  // or a registered task definition ARN
        vars: [:],             // task definition template variables
        timeout: null,         // seconds or '15m': give up (and roll back) after this
        pollInterval: null,    // seconds between checks
        rollbackTimeout: null, // seconds or '10m' for the rollback's own watch
        waitForLock: null,     // '10m': wait for another deploy's pipeline-py lock (default: the config's lock.wait)
        reportDir: null,       // pipeline-py's HTML report directory (default: .pipeline-py/reports by the config)
        desiredCount: null,    // task count for the new revision
        forceNewDeployment: false, // deploy even when the revision is unchanged
        pauseAt: null,         // stop with this traffic percent on the new revision, or (ecs-*) at this lifecycle
                               // stage, e.g. 'POST_TEST_TRAFFIC_SHIFT' (result status 'paused')
        rolling: null,         // [bakeSeconds:]
        canary: null,          // [steps: [10, 25, 50, 100], bakeSeconds: 300, analysis: [maxErrorRate: 0.01, ...]]
        linear: null,          // [stepPercent: 20, bakeSeconds: 120, analysis: [...]]
        blueGreen: null,       // [testUrl:, testListenerArn:, scaleDownDelay:, verifyRetries:]
        native: null,          // ecs-*: [canaryPercent: 10, linearStepPercent: 25, gateTimeoutMinutes: 60, ...]
        report: null,          // a file name, true (default: deploy-<env>.json) or false
        description: true,     // set the build description to the outcome
        abortGraceSeconds: null, // after an abort: wait for the rollback (default rollbackTimeout + 60 s, else 660 s)
        publishHtml: null,     // the HTML report: true, false or 'auto' (null: publish if HTML Publisher is installed)
    ]
    Map opts = pipelinePy.configure('ecsDeploy', args, defaults, ['env'])
    String problem = strategyProblem(opts) ?: pauseAtProblem(opts)
    if (problem) {
        error(problem)
    }
    Map set = (opts.set ?: [:]) + strategySettings(opts)
    Map result = pipelinePy.run('deploy', opts + [set: set], [
        strategy         : opts.strategy,
        image            : opts.image,
        'task-definition': opts.taskDefinition,
        var              : opts.vars ?: null,
        timeout          : opts.timeout,
        'poll-interval'  : opts.pollInterval,
        'rollback-timeout': opts.rollbackTimeout,
        'desired-count'  : opts.desiredCount,
        'force-new-deployment': opts.forceNewDeployment ? true : null,
        'pause-at'       : opts.pauseAt instanceof CharSequence ? opts.pauseAt.toString() : opts.pauseAt,
        'wait-for-lock'  : opts.waitForLock,
        'report-dir'     : opts.reportDir,
    ], [report: pipelinePy.reportName(opts.report, "deploy-${opts.env}.json", true), failOnError: false,
        abortGraceSeconds: opts.abortGraceSeconds, description: abortPrefix(opts), publishHtml: opts.publishHtml])
    finish('deploy', opts, result)
    return result
}

/** Continues a deploy paused at a gate (pauseAt) to 100%. */
Map promote(Map args = [:]) {
    return gateAction('promote', args)
}

/** Abandons a paused deploy and moves all traffic back to the stable revision. */
Map abort(Map args = [:]) {
    return gateAction('abort', args)
}

Map gateAction(String action, Map args) {
    Map defaults = pipelinePy.commonDefaults() + [
        strategy: null, // the paused deploy's strategy, when not the environment's
        image: null,    // the paused deploy's image, for the build description only
        timeout: null, pollInterval: null, rollbackTimeout: null, waitForLock: null, reportDir: null,
        report: null, description: true, abortGraceSeconds: null, publishHtml: null,
        failOnError: true, // false: return a failed result (with exit_code) instead of failing the build
    ]
    Map opts = pipelinePy.configure("ecsDeploy.${action}", args, defaults, ['env'])
    String problem = strategyProblem(opts)
    if (problem) {
        error(problem)
    }
    Map result = pipelinePy.run("deploy ${action}", opts,
        [strategy: opts.strategy, timeout: opts.timeout, 'poll-interval': opts.pollInterval,
         'rollback-timeout': opts.rollbackTimeout, 'wait-for-lock': opts.waitForLock, 'report-dir': opts.reportDir],
        [report: pipelinePy.reportName(opts.report, "deploy-${action}-${opts.env}.json", true), failOnError: false,
         abortGraceSeconds: opts.abortGraceSeconds, description: abortPrefix(opts), publishHtml: opts.publishHtml])
    finish("deploy ${action}", opts, result)
    return result
}

void finish(String command, Map opts, Map result) {
    if (opts.description) {
        currentBuild.description = describe(opts, result) + HtmlReports.descriptionLink(result)
    }
    if (result.analysis) {
        echo("ecsDeploy: canary analysis: ${analysisLine(result.analysis)}")
    }
    if (result.paused instanceof Map) {
        echo("ecsDeploy (${opts.env}): ${pausedLine((Map) result.paused)}")
    }
    if (result.exit_code && opts.failOnError != false) {
        pipelinePy.fail(command, result)
    }
    echo("ecsDeploy (${opts.env}): ${result.status}")
}

@NonCPS
static String strategyProblem(Map opts) {
    if (opts.strategy != null && !(opts.strategy in STRATEGIES)) {
        return "ecsDeploy: unknown strategy '${opts.strategy}' (known: ${STRATEGIES.join(', ')})".toString()
    }
    for (Map.Entry e : SETTINGS.entrySet()) {
        def given = opts[e.key]
        if (given == null) {
            continue
        }
        if (!(given instanceof Map)) {
            return "ecsDeploy: ${e.key} must be a map of settings, got ${given.getClass().getSimpleName()}".toString()
        }
        String wrong = strategyMismatch("${e.key} settings apply", (List) e.value.strategies, opts.strategy)
        if (wrong) {
            return wrong
        }
        Map paths = (Map) e.value.paths
        List unknown = given.keySet().findAll { Object k -> !paths.containsKey(k) }.collect { Object k -> k.toString() }
        if (unknown) {
            return ("ecsDeploy: unknown ${e.key} setting '${unknown[0]}' " +
                "(known: ${e.value.paths.keySet().join(', ')})").toString()
        }
        wrong = onlyProblem(e.key.toString(), (Map) given, (Map) (e.value.only ?: [:]), opts.strategy)
        if (wrong) {
            return wrong
        }
        boolean percentages = given.steps instanceof List && given.steps.every { Object s -> s instanceof Number }
        if (given.steps != null && !percentages) {
            return "ecsDeploy: ${e.key}.steps must be a list of traffic percentages, got '${given.steps}'".toString()
        }
    }
    return null
}

/** A setting that applies to fewer strategies than its map (canary.steps: only 'canary'). */
@NonCPS
static String onlyProblem(String param, Map given, Map only, Object strategy) {
    Object key = given.keySet().find { Object k -> only[k] && !(strategy == null || strategy in only[k]) }
    return key == null ? null : strategyMismatch("${param}.${key} applies", (List) only[key], strategy)
}

/** "<what> to strategy 'canary', not 'rolling'"; null when strategy is one of them (or unset). */
@NonCPS
static String strategyMismatch(String what, List strategies, Object strategy) {
    if (strategy == null || strategy in strategies) {
        return null
    }
    String which = strategies.size() == 1 ? "strategy '${strategies[0]}'" : "strategies ${strategies.join(', ')}"
    return "ecsDeploy: ${what} to ${which}, not '${strategy}'".toString()
}

/**
 * pauseAt: a traffic percentage (a number, or digits) for every strategy that shifts traffic, or
 * for ecs-* a lifecycle stage name such as 'POST_TEST_TRAFFIC_SHIFT' (pipeline-py checks that
 * the stage takes a PAUSE hook and that the percentage is reachable).
 */
@NonCPS
static String pauseAtProblem(Map opts) {
    Object at = opts.pauseAt
    if (at == null || at instanceof Number || (at instanceof CharSequence && at.toString() ==~ /\d+/)) {
        return null
    }
    if (!(at instanceof CharSequence) || !(at.toString() ==~ /[A-Z][A-Z_]*/)) {
        return ('ecsDeploy: pauseAt must be a traffic percentage or (ecs-* strategies) a lifecycle stage such as ' +
            "'POST_TEST_TRAFFIC_SHIFT', got '${at}'").toString()
    }
    if (opts.strategy == null || opts.strategy in NATIVE_STRATEGIES) {
        return null
    }
    return ("ecsDeploy: pauseAt '${at}' is a lifecycle stage, which only the ecs-* strategies have " +
        "(${NATIVE_STRATEGIES.join(', ')}), not '${opts.strategy}'; " +
        "pause ${opts.strategy} at a traffic percentage").toString()
}

/** The strategy settings as config overrides (analysis keys may be camelCase). */
@NonCPS
static Map strategySettings(Map opts) {
    Map out = [:]
    SETTINGS.each { String param, Map spec ->
        (opts[param] ?: [:]).each { k, v ->
            out[spec.paths[k]] = v instanceof Map ? Params.snakeKeys((Map) v) : v
        }
    }
    return out
}

/** "paused at POST_TEST_TRAFFIC_SHIFT with 0% of production on the new revision until <time>". */
@NonCPS
static String pausedLine(Map paused) {
    String where = paused.stage ? "at ${paused.stage} " : ''
    String until = paused.expires_at ? "; ECS rolls it back at ${paused.expires_at} unless it is promoted" : ''
    return "paused ${where}with ${paused.weight ?: 0}% of production traffic on the new revision${until}".toString()
}

/** The build description after an abort: the deploy's line without its outcome (pipelinePy adds it). */
@NonCPS
static Object abortPrefix(Map opts) {
    if (!opts.description) {
        return false
    }
    String what = shortImage((opts.image ?: opts.taskDefinition ?: 'current revision').toString())
    return "${opts.env}: ${what} \u00b7 ${opts.strategy ?: 'configured strategy'}".toString()
}

/** One line for the build page: "prod: task-api@sha256:0123456789ab · canary · succeeded". */
@NonCPS
static String describe(Map opts, Map result) {
    String what = shortImage((opts.image ?: result.task_definition_arn ?: 'current revision').toString())
    String strategy = result.strategy ?: opts.strategy ?: 'configured strategy'
    String outcome = result.status ?: 'unknown'
    if (result.exit_code == 3) {
        outcome = 'FAILED, MANUAL ACTION REQUIRED'
    } else if (result.exit_code == 2) {
        outcome = 'configuration error'
    }
    return "${opts.env}: ${what} \u00b7 ${strategy} \u00b7 ${outcome}".toString()
}

@NonCPS
static String shortImage(String ref) {
    String name = ref.contains('/') ? ref.substring(ref.lastIndexOf('/') + 1) : ref
    int at = name.indexOf('@sha256:')
    return at >= 0 && name.length() > at + 20 ? name.substring(0, at + 20) : name
}

@NonCPS
static String analysisLine(Object analysis) {
    if (!(analysis instanceof List)) {
        return analysis.toString()
    }
    return analysis.collect { Object step ->
        if (!(step instanceof Map)) {
            return step.toString()
        }
        return "${step.weight ?: step.step ?: '?'}%: ${step.verdict ?: step.result ?: step.status ?: '?'}"
    }.join(', ')
}

// A complete declarative pipeline for a service in a multibranch project:
//
//   pull requests and other branches  checks, build the image, render, terraform plan
//   the staging branch (develop)       ... push, apply the plan and deploy to staging
//   the production branch (main)       ... push, image scan, approval (input with submitter), apply
//                                      and deploy to prod under lock("<service>-<env>") and milestones
//   tags (TAG_NAME)                    ... promoted to prod the same way (promoteTags)
//
// Before a deploy, automatic gates check what a machine can check: the checks passed (and no
// test report made the build UNSTABLE), a pushed image digest exists, the plan was reviewed (the
// approval shows its summary), for prod the image scan gate (before the approval and again under
// the lock), no configured alarm is in ALARM, and for prod a database snapshot. A deploy paused at
// pauseAt waits for a human (promote or abort); a failed deploy is diagnosed (pipeline-py
// diagnose, archived); `verify: true` checks the environment after the deploy.
import groovy.transform.Field
import io.pipelinepy.HtmlReports
import io.pipelinepy.Params

@Field static final Map DEFAULTS = [
    service: null,                // required: names the locks ("<service>-<env>") and messages
    appDir: '.',                  // directory holding pipeline.yaml (and the Dockerfile, terraform)
    config: null,                 // config file relative to appDir (default pipeline.yaml)
    agentLabel: '',               // label expression for the stages' agents ('' = any agent)
    checks: [:],                  // ordered [name: { steps }]: this repository's tests, each a stage
    requireChecks: true,          // refuse to deploy a build that ran no checks
    testResults: null,            // JUnit XML pattern to record after the checks
    terraform: true,              // plan (and apply on deploying branches)
    stagingBranch: 'develop',
    stagingEnv: 'staging',
    stagingCredentialsId: null,   // AWS credential for staging (null: the agent's own credentials)
    stagingDeploy: [:],           // extra ecsDeploy parameters for staging (strategy, canary, ...)
    prodBranch: 'main',
    prodEnv: 'prod',
    prodCredentialsId: null,
    prodDeploy: [:],              // extra ecsDeploy parameters for prod
    prodSubmitter: null,          // required: users/groups who may approve a prod deploy
    promoteTags: true,            // tag builds deploy to prod (after approval)
    prEnv: null,                  // environment pull requests render and plan against (default stagingEnv)
    prCredentialsId: null,        // read-only AWS credential for PR plans; none: PRs skip the plan
    checkAlarms: true,            // no configured alarm may be in ALARM before a deploy starts
    rdsSnapshot: null,            // snapshot the database before a prod deploy (dbSnapshot): an RDS instance
                                  // name, or true for the config's database.instance (default <service>-<env>)
    imageScan: true,              // prod: the image scan gate (pipeline-py scan) before the approval and the deploy
    publishHtml: null,            // the deploy's HTML report: true, false or 'auto' (null: HTML Publisher if installed)
    promotionTimeoutMinutes: 60,  // a deploy paused at pauseAt: how long the promote/abort input waits (then abort);
                                  // for ecs-* strategies at most native.gate_timeout_minutes minus a margin
    diagnoseOnFailure: true,      // a failed deploy stage runs pipeline-py diagnose (archived as diagnose-<env>.json)
    verify: false,                // a Verify stage after the deploy (diagnose: error rate, logs, service, targets, db)
    verifyWindow: '10m',          // how far back Verify looks (pipeline-py diagnose --since)
    imageTags: [],                // extra image tags
    pipelinePySource: null,       // install source for pipeline-py (default $PIPELINE_PY_SOURCE / pypi)
    stageTimeoutMinutes: 30,      // each stage's timeout, started on the agent (inside steps)
    deployTimeoutMinutes: 120,    // deploy stages: lock waits, preflight and apply; pipeline-py's deploy bound is added
    approvalTimeoutHours: 24,
]

// ecsDeploy parameters that stagingDeploy/prodDeploy may set.
@Field static final List DEPLOY_KEYS = [
    'strategy', 'vars', 'timeout', 'pollInterval', 'rollbackTimeout', 'desiredCount', 'forceNewDeployment', 'pauseAt',
    'waitForLock', 'reportDir', 'rolling', 'canary', 'linear', 'blueGreen', 'native',
]

// The diagnose checks of the Verify stage: the seed runbook's post-deploy verification.
@Field static final List VERIFY_CHECKS = ['error_rate', 'error_logs', 'service', 'targets', 'database']

// The promotion input of an ecs-* deploy times out this many minutes before ECS' own gate hook
// (native.gate_timeout_minutes), so that pipeline-py, not ECS' timeout, rolls the deploy back.
@Field static final int GATE_MARGIN_MINUTES = 5

@Field static final String PLAN_STASH = 'pipeline-py-terraform-plan'

// Seconds added to pipeline-py's own deploy bound (timeout + rollback_timeout) for the deploy
// stage's timeout, so that Jenkins never interrupts a deploy that pipeline-py itself would still
// finish or roll back; and the wait for the rollback after an abort.
@Field static final long ROLLBACK_MARGIN_SECONDS = 60

// The build's settings, flow and state. Fields, not locals of call(): with Declarative's
// script-splitting transformation (SCRIPT_SPLITTING_TRANSFORMATION, the usual cure for "Method
// code too large") the blocks of pipeline { } become methods of this script and can no longer see
// call()'s local variables, but they still see its fields and methods. Jenkins caches this
// instance per calling script and a build runs one declarative pipeline, so the fields are per build.
@Field Map cfg
@Field Map flow
@Field Map state

@SuppressWarnings('MethodSize')  // a Declarative pipeline is one pipeline { } block
def call(Map args = [:]) {
    cfg = pipelinePy.configure('ecsPipeline', args, DEFAULTS, ['service'])
    String problem = configProblem(cfg)
    if (problem) {
        error(problem)
    }
    flow = flowFor([CHANGE_ID: env.CHANGE_ID, TAG_NAME: env.TAG_NAME, BRANCH_NAME: env.BRANCH_NAME], cfg)
    if (flow.deployEnv && cfg.requireChecks && !cfg.checks) {
        error("ecsPipeline: checks is empty, so nothing would be tested before deploying to ${flow.deployEnv} " +
            '(set checks, or requireChecks: false)')
    }
    echo("ecsPipeline: ${describeFlow(flow)}")
    state = [checksPassed: false, image: null, plan: null, planChanges: false, approver: null, scanLine: null,
             deployStarted: false, snapshot: null, verified: null]

    // No disableConcurrentBuilds(): it would queue every newer build of a branch behind one waiting
    // up to approvalTimeoutHours for its approval. The lock serialises deploys and the milestones
    // cancel the builds a newer one of the same job has overtaken.
    // Timeouts are set inside steps, not in stage options: an options timeout starts before the
    // agent is allocated, so a busy agent pool could time out a stage that never started.
    pipeline {
        agent none
        options {
            buildDiscarder(logRotator(numToKeepStr: '50', artifactNumToKeepStr: '20'))
        }
        stages {
            stage('Checks') {
                when {
                    beforeAgent true
                    expression { cfg.checks as boolean }
                }
                agent { label cfg.agentLabel }
                steps {
                    script {
                        timeout(time: cfg.stageTimeoutMinutes, unit: 'MINUTES') {
                            runChecks()
                        }
                    }
                }
                post {
                    always {
                        script {
                            if (cfg.testResults) {
                                junit(testResults: cfg.testResults, allowEmptyResults: false)
                            }
                        }
                    }
                }
            }
            stage('Build image') {
                agent { label cfg.agentLabel }
                steps {
                    script {
                        timeout(time: cfg.stageTimeoutMinutes, unit: 'MINUTES') {
                            containerImage()
                        }
                    }
                }
            }
            stage('Render task definition') {
                agent { label cfg.agentLabel }
                steps {
                    script {
                        timeout(time: cfg.stageTimeoutMinutes, unit: 'MINUTES') {
                            render()
                        }
                    }
                }
            }
            stage('Terraform plan') {
                when {
                    beforeAgent true
                    expression { flow.terraformPlan }
                }
                agent { label cfg.agentLabel }
                steps {
                    script {
                        timeout(time: cfg.stageTimeoutMinutes, unit: 'MINUTES') {
                            plan()
                        }
                    }
                }
            }
            stage('Deploy staging') {
                when {
                    beforeAgent true
                    expression { flow.deployEnv == cfg.stagingEnv }
                }
                agent { label cfg.agentLabel }
                steps {
                    script { deploy(20) }
                }
                post {
                    failure {
                        script { diagnoseFailure() }
                    }
                }
            }
            stage('Image scan') {
                when {
                    beforeAgent true
                    expression { flow.approval && cfg.imageScan }
                }
                agent { label cfg.agentLabel }
                steps {
                    script {
                        timeout(time: cfg.stageTimeoutMinutes, unit: 'MINUTES') {
                            scanBeforeApproval()
                        }
                    }
                }
            }
            stage('Approve production') {
                when {
                    beforeAgent true
                    expression { flow.approval }
                }
                agent none
                steps {
                    script {
                        timeout(time: cfg.approvalTimeoutHours, unit: 'HOURS') {
                            approve()
                        }
                    }
                }
            }
            stage('Deploy production') {
                when {
                    beforeAgent true
                    expression { flow.approval }
                }
                agent { label cfg.agentLabel }
                steps {
                    script { deploy(40) }
                }
                post {
                    failure {
                        script { diagnoseFailure() }
                    }
                }
            }
            stage('Verify') {
                when {
                    beforeAgent true
                    expression { cfg.verify && flow.deployEnv != null }
                }
                agent { label cfg.agentLabel }
                steps {
                    script {
                        timeout(time: cfg.stageTimeoutMinutes, unit: 'MINUTES') {
                            verifyDeploy()
                        }
                    }
                }
            }
        }
        post {
            unsuccessful {
                echo("ecsPipeline: ${cfg.service} ${currentBuild.currentResult}; " +
                    'the pipeline-py reports are in the build artifacts')
                script {
                    if (state.verified == false) {
                        echo("ecsPipeline: the new revision is live on ${flow.deployEnv} but failed verification " +
                            "(pipeline-py-reports/verify-${flow.deployEnv}.json); roll back with " +
                            "ecsRollback(env: '${flow.deployEnv}') or pipeline-py rollback --env ${flow.deployEnv}")
                    }
                }
            }
        }
    }
}

void runChecks() {
    List names = keysOf((Map) cfg.checks)
    for (int i = 0; i < names.size(); i++) {
        Closure body = (Closure) cfg.checks[names[i]]
        stage(names[i]) {
            body.call()
        }
    }
    state.checksPassed = true
}

void containerImage() {
    String buildEnv = flow.deployEnv ?: flow.planEnv
    String credentials = flow.deployEnv ? flow.deployCredentialsId : null
    List tags = imageTags(cfg, [GIT_COMMIT: env.GIT_COMMIT, TAG_NAME: env.TAG_NAME])
    dir(cfg.appDir) {
        Map built = buildImage(common(cfg, buildEnv, credentials) + [tags: tags])
        state.image = firstOf(built.references) ?: firstOf(built.tags)
        if (flow.push) {
            Map pushed = pushImage(common(cfg, buildEnv, credentials) + [tags: tags])
            state.image = pushed.image
        }
    }
}

void render() {
    dir(cfg.appDir) {
        renderTaskDefinition(common(cfg, flow.planEnv, flow.planCredentialsId) +
            [image: state.image, diff: flow.planCredentialsId != null || flow.deployEnv != null, report: true])
    }
}

void plan() {
    String planFile = terraformPlan.defaultPlanFile(flow.planEnv)
    dir(cfg.appDir) {
        state.plan = terraformPlan(common(cfg, flow.planEnv, flow.planCredentialsId) + [planFile: planFile])
        state.planChanges = terraformPlan.hasChanges(state.plan)
        state.planFile = planFile
        if (flow.deployEnv && state.planChanges) {
            stash(name: PLAN_STASH, includes: planFile)
        }
    }
}

/** The scan gate before anybody is asked to approve the image (it runs again under the lock before the deploy). */
void scanBeforeApproval() {
    dir(cfg.appDir) {
        Map scanned = scanImage(common(cfg, flow.deployEnv, flow.deployCredentialsId) +
            [image: state.image, report: "scan-${flow.deployEnv}-before-approval.json"])
        state.scanLine = scanImage.summary(scanned)
    }
}

void approve() {
    String gate = gateProblem(cfg, flow, state, currentBuild.currentResult)
    if (gate) {
        error(gate)
    }
    String planLine = null
    int destroys = 0
    if (state.plan != null) {
        planLine = terraformPlan.summaryLine(state.plan.summary)
        Map summary = (Map) state.plan.summary
        destroys = terraformPlan.count(summary, 'destroy') + terraformPlan.count(summary, 'replace')
    }
    milestone(ordinal: 30, label: "approval for ${flow.deployEnv} requested")
    state.approver = input(message: approvalMessage(cfg, flow, state, planLine, destroys),
        ok: "Deploy to ${flow.deployEnv}", submitter: cfg.prodSubmitter, submitterParameter: 'APPROVER')
    milestone(ordinal: 35, label: "deploy to ${flow.deployEnv} approved")
    echo("ecsPipeline: ${flow.deployEnv} deploy approved by ${state.approver}")
}

/**
 * Gates, then under the environment's lock: milestone, (prod) the image scan gate, the alarm
 * preflight, (prod) the database snapshot, terraform apply, deploy, and the promotion gate of a
 * deploy that paused. The stage's timeout starts here (on the agent) and covers
 * deployTimeoutMinutes for the Jenkins lock wait, the gates and the apply, plus pipeline-py's own
 * bound for the deploy (its lock wait, timeout + rollback_timeout, from the step's parameters or
 * the environment's config) and, with pauseAt, the promotion gate and the promote: pipeline-py's
 * timeout always fires first and rolls back; Jenkins' is only the backstop for a pipeline-py
 * that hangs.
 *
 * Two locks: Jenkins' lock() serialises this controller's builds (and its milestones cancel
 * superseded ones); pipeline-py's own lock (DynamoDB) serialises deploys from anywhere else (a
 * second controller, a laptop). ecsDeploy waits for the latter up to waitForLock (default:
 * deployTimeoutMinutes) instead of failing at once, so two controllers queue.
 */
void deploy(int milestoneOrdinal) {
    String target = flow.deployEnv
    String gate = gateProblem(cfg, flow, state, currentBuild.currentResult)
    if (gate) {
        error(gate)
    }
    boolean prod = target == cfg.prodEnv
    Map base = common(cfg, target, flow.deployCredentialsId)
    Map deployArgs = prod ? cfg.prodDeploy : cfg.stagingDeploy
    Map limits = null
    dir(cfg.appDir) {
        Map resolved = pipelinePy(base + [command: 'config'])
        limits = deployLimits(cfg, deployArgs, (Map) resolved.config)
    }
    echo("ecsPipeline: ${target} deploy stage timeout ${limits.stageMinutes} min (${limitsLine(cfg, limits)})")
    timeout(time: limits.stageMinutes, unit: 'MINUTES') {
        lock(resource: "${cfg.service}-${target}", inversePrecedence: true) {
            milestone(ordinal: milestoneOrdinal, label: "deploying to ${target}")
            dir(cfg.appDir) {
                if (prod && cfg.imageScan) {
                    scanImage(base + [image: state.image, report: "scan-${target}.json"])
                }
                if (cfg.checkAlarms) {
                    pipelinePy(base + [command: 'jenkins preflight', report: "preflight-${target}.json"])
                }
                if (prod && cfg.rdsSnapshot) {
                    String instance = cfg.rdsSnapshot instanceof CharSequence ? cfg.rdsSnapshot.toString() : null
                    state.snapshot = dbSnapshot(base + [instance: instance, report: "db-snapshot-${target}.json"])
                }
                state.deployStarted = true
                if (state.planChanges) {
                    unstash(PLAN_STASH)
                    terraformApply(base + [planFile: state.planFile])
                }
                Map deployed = ecsDeploy(base + [image: state.image, abortGraceSeconds: limits.abortGraceSeconds,
                                                 publishHtml: cfg.publishHtml] + limits.deployOptions + deployArgs)
                if (deployed.status == 'paused') {
                    promotionGate(target, base + [publishHtml: cfg.publishHtml], deployArgs, limits, deployed)
                }
            }
        }
    }
}

/**
 * The human gate of a deploy that paused at pauseAt (an ecs-* deploy at a lifecycle stage, or a
 * canary/linear deploy at a traffic percentage), still under the lock: an input that shows where
 * it paused and until when ECS waits, timing out before ECS' own gate hook does. Approved:
 * ecsDeploy.promote. Rejected, timed out or the build aborted: ecsDeploy.abort rolls it back,
 * then the build ends ABORTED (a rollback that could not restore a safe state fails it with
 * MANUAL ACTION REQUIRED instead).
 */
void promotionGate(String target, Map base, Map deployArgs, Map limits, Map deployed) {
    Map gateArgs = base + [strategy: deployed.strategy ?: deployArgs.strategy, image: state.image,
                           abortGraceSeconds: limits.abortGraceSeconds] + gateOptions(deployArgs, limits)
    Map inputArgs = [message: promotionMessage(cfg, target, state.image, deployed, limits.gateMinutes),
                     ok: "Promote to ${target}".toString(), submitterParameter: 'APPROVER']
    if (target == cfg.prodEnv) {
        inputArgs.submitter = cfg.prodSubmitter
    }
    Object approver = null
    InterruptedException stopped = null
    try {
        timeout(time: limits.gateMinutes, unit: 'MINUTES') {
            approver = input(inputArgs)
        }
    } catch (InterruptedException interruption) {
        stopped = interruption  // rejected, timed out, or the build was aborted
    }
    if (stopped == null) {
        echo("ecsPipeline: ${target} promotion approved by ${approver}")
        ecsDeploy.promote(gateArgs)
        return
    }
    echo("ecsPipeline: the ${target} promotion was rejected, not approved within ${limits.gateMinutes} min, or the " +
        'build was aborted: aborting the paused deploy')
    Map undone = ecsDeploy.abort(gateArgs + [failOnError: false])
    if (undone.exit_code && undone.exit_code != 1) {
        pipelinePy.fail('deploy abort', undone)
    }
    throw stopped
}

/** After a failed deploy stage: the environment's diagnose, archived; it never changes the build's outcome. */
void diagnoseFailure() {
    if (!state.deployStarted || !cfg.diagnoseOnFailure) {
        return
    }
    String target = flow.deployEnv
    catchError(buildResult: 'FAILURE', stageResult: 'FAILURE',
               message: "ecsPipeline: the diagnose of ${target} after the failed deploy did not complete".toString()) {
        timeout(time: cfg.stageTimeoutMinutes, unit: 'MINUTES') {
            dir(cfg.appDir) {
                ecsDiagnose(common(cfg, target, flow.deployCredentialsId) + [report: "diagnose-${target}.json"])
            }
        }
    }
}

/** The Verify stage: the seed runbook's checks after a deploy; problems fail the build. */
void verifyDeploy() {
    String target = flow.deployEnv
    state.verified = false
    dir(cfg.appDir) {
        ecsDiagnose(common(cfg, target, flow.deployCredentialsId) +
            [since: cfg.verifyWindow, only: VERIFY_CHECKS, failOnProblems: true, report: "verify-${target}.json"])
    }
    state.verified = true
}

Map common(Map cfg, String envName, String credentialsId) {
    return [env: envName, config: cfg.config, awsCredentialsId: credentialsId, pipelinePySource: cfg.pipelinePySource]
}

/** What this build does, from the multibranch variables. */
@NonCPS
static Map flowFor(Map e, Map cfg) {
    String kind = e.CHANGE_ID ? 'pull-request' : e.TAG_NAME ? 'tag' :
        e.BRANCH_NAME == cfg.prodBranch ? 'production' : e.BRANCH_NAME == cfg.stagingBranch ? 'staging' : 'branch'
    String deployEnv = kind == 'staging' ? cfg.stagingEnv :
        (kind == 'production' || (kind == 'tag' && cfg.promoteTags)) ? cfg.prodEnv : null
    String deployCredentials = deployEnv == null ? null :
        deployEnv == cfg.prodEnv ? cfg.prodCredentialsId : cfg.stagingCredentialsId
    String planEnv = deployEnv ?: (cfg.prEnv ?: cfg.stagingEnv)
    String planCredentials = deployEnv ? deployCredentials : cfg.prCredentialsId
    return [
        kind               : kind,
        name               : e.CHANGE_ID ? "pull request ${e.CHANGE_ID}" :
            e.TAG_NAME ? "tag ${e.TAG_NAME}" : "branch ${e.BRANCH_NAME}",
        deployEnv          : deployEnv,
        deployCredentialsId: deployCredentials,
        planEnv            : planEnv,
        planCredentialsId  : planCredentials,
        push               : deployEnv != null,
        approval           : deployEnv != null && deployEnv == cfg.prodEnv,
        terraformPlan      : cfg.terraform && (deployEnv != null || planCredentials != null),
    ]
}

@NonCPS
static String describeFlow(Map flow) {
    List parts = ['checks', 'build image', flow.push ? 'push' : null, 'render',
                  flow.terraformPlan ? "terraform plan (${flow.planEnv})" : 'no terraform plan',
                  flow.approval ? 'approval' : null, flow.deployEnv ? "deploy to ${flow.deployEnv}" : 'no deploy']
    return "${flow.name}: ${parts.findAll { Object p -> p }.join(', ')}".toString()
}

@NonCPS
static String configProblem(Map cfg) {
    if (cfg.stagingEnv == cfg.prodEnv) {
        return "ecsPipeline: stagingEnv and prodEnv are both '${cfg.prodEnv}'".toString()
    }
    if (!cfg.prodSubmitter) {
        return "ecsPipeline: missing required parameter 'prodSubmitter' (the users or groups who may approve a " +
            "deploy to ${cfg.prodEnv})"
    }
    for (Object name : cfg.checks.keySet()) {
        if (!(cfg.checks[name] instanceof Closure)) {
            return "ecsPipeline: checks['${name}'] must be a closure such as { sh 'make test' }".toString()
        }
    }
    for (String which : ['stagingDeploy', 'prodDeploy']) {
        Map d = (Map) cfg[which]
        List unknown = d.keySet().findAll { Object k -> !(k in DEPLOY_KEYS) }.collect { Object k -> k.toString() }
        if (unknown) {
            return ("ecsPipeline: ${which} has unknown ecsDeploy parameter '${unknown[0]}' " +
                "(allowed: ${DEPLOY_KEYS.join(', ')})").toString()
        }
    }
    List positive = ['stageTimeoutMinutes', 'deployTimeoutMinutes', 'approvalTimeoutHours', 'promotionTimeoutMinutes']
    for (String key : positive) {
        if (cfg[key] <= 0) {
            return "ecsPipeline: ${key} must be positive, got ${cfg[key]}".toString()
        }
    }
    if (!(cfg.rdsSnapshot == null || cfg.rdsSnapshot instanceof Boolean ||
        (cfg.rdsSnapshot instanceof CharSequence && cfg.rdsSnapshot.toString().trim()))) {
        return 'ecsPipeline: rdsSnapshot must be an RDS instance name or true (the config\'s database.instance)'
    }
    if (Params.seconds(cfg.verifyWindow) == null) {
        return "ecsPipeline: verifyWindow must be a duration such as '10m', got '${cfg.verifyWindow}'".toString()
    }
    return HtmlReports.publishProblem('ecsPipeline', cfg.publishHtml)
}

/** The automatic part of the pre-deployment checklist; null when every gate is open. */
@NonCPS
static String gateProblem(Map cfg, Map flow, Map state, String buildResult) {
    String target = flow.deployEnv
    if (cfg.checks && !state.checksPassed) {
        return "gate: the checks did not pass; not deploying to ${target}".toString()
    }
    if (buildResult != 'SUCCESS') {
        return "gate: the build is ${buildResult} (failed or unstable tests); not deploying to ${target}".toString()
    }
    if (!(state.image?.toString()?.contains('@sha256:'))) {
        return "gate: no pushed image digest to deploy (got '${state.image}'); not deploying to ${target}".toString()
    }
    if (cfg.terraform && state.plan == null) {
        return "gate: no terraform plan was made for ${target}; not deploying".toString()
    }
    return null
}

@NonCPS
static String approvalMessage(Map cfg, Map flow, Map state, String planLine, int destroys) {
    String msg = "Deploy ${cfg.service} ${state.image} to ${flow.deployEnv}?"
    if (state.scanLine) {
        msg += "\nImage scan: ${state.scanLine}"
    }
    if (planLine != null) {
        msg += "\nTerraform plan: ${planLine} (pipeline-py-reports/terraform-plan-${flow.deployEnv}.json)"
    }
    if (destroys > 0) {
        msg += "\nWARNING: the plan destroys or replaces ${destroys} resource(s)."
    }
    return msg.toString()
}

/** Unique tags only (ECR repositories are immutable): the commit, and the git tag when building one. */
@NonCPS
static List imageTags(Map cfg, Map e) {
    List tags = []
    if (e.GIT_COMMIT) {
        String commit = e.GIT_COMMIT
        tags << "git-${commit.substring(0, Math.min(12, commit.length()))}".toString()
    }
    if (e.TAG_NAME) {
        tags << e.TAG_NAME.toString()
    }
    for (Object t : cfg.imageTags) {
        if (!(t.toString() in tags)) {
            tags << t.toString()
        }
    }
    return tags
}

/**
 * The deploy stage's bounds from pipeline-py's own: the deploy's timeout and rollback_timeout
 * come from the step's parameters (stagingDeploy/prodDeploy) or else the environment's resolved
 * config (pipeline-py config), else pipeline-py's defaults (900 s, 600 s).
 *
 * pipeline-py's lock wait: stagingDeploy/prodDeploy's waitForLock, else the config's lock.wait,
 * else deployTimeoutMinutes (at most 24 h), which ecsDeploy then passes (deployOptions).
 *
 * With pauseAt, the promotion gate's input waits promotionTimeoutMinutes; for ecs-* strategies
 * at most native.gate_timeout_minutes minus GATE_MARGIN_MINUTES (one minute under 10), so that
 * the abort reaches the paused deploy before ECS' gate hook times out. The promote (or abort)
 * that follows is bounded like the deploy.
 */
@NonCPS
static Map deployLimits(Map cfg, Map deployArgs, Map config) {
    Long deploySeconds = Params.seconds(deployArgs.timeout) ?: Params.seconds(config?.timeout) ?: 900L
    Long rollbackSeconds = Params.seconds(deployArgs.rollbackTimeout) ?: Params.seconds(config?.rollback_timeout) ?:
        600L
    Map deployOptions = [:]
    Long lockSeconds
    if (deployArgs.containsKey('waitForLock')) {
        lockSeconds = Params.seconds(deployArgs.waitForLock) ?: 0L
    } else if (Params.seconds(((Map) config?.lock ?: [:]).wait)) {
        lockSeconds = Params.seconds(((Map) config.lock).wait)
    } else {
        int lockMinutes = Math.min((int) cfg.deployTimeoutMinutes, 1440)
        deployOptions.waitForLock = "${lockMinutes}m".toString()
        lockSeconds = lockMinutes * 60L
    }
    long pipelinePySeconds = lockSeconds + deploySeconds + rollbackSeconds + ROLLBACK_MARGIN_SECONDS
    int pipelinePyMinutes = (int) Math.ceil(pipelinePySeconds / 60d)
    int gateMinutes = 0
    if (deployArgs.pauseAt != null) {
        gateMinutes = (int) cfg.promotionTimeoutMinutes
        String strategy = deployArgs.strategy ?: config?.strategy
        if (strategy?.startsWith('ecs-')) {
            Object given = ((Map) deployArgs.native ?: [:]).gateTimeoutMinutes ?:
                ((Map) config?.native ?: [:]).gate_timeout_minutes
            int ecsGate = given instanceof Number ? ((Number) given).intValue() : 1440
            int margin = ecsGate >= 10 ? GATE_MARGIN_MINUTES : 1
            gateMinutes = Math.max(1, Math.min(gateMinutes, ecsGate - margin))
        }
    }
    int stageMinutes = ((int) cfg.deployTimeoutMinutes) + pipelinePyMinutes +
        (gateMinutes > 0 ? gateMinutes + pipelinePyMinutes : 0)
    return [deploySeconds    : deploySeconds, rollbackSeconds: rollbackSeconds, lockSeconds: lockSeconds,
            gateMinutes      : gateMinutes, stageMinutes: stageMinutes, deployOptions: deployOptions,
            abortGraceSeconds: rollbackSeconds + ROLLBACK_MARGIN_SECONDS]
}

/** How the deploy stage's timeout is made up, for the log. */
@NonCPS
static String limitsLine(Map cfg, Map limits) {
    String line = "${cfg.deployTimeoutMinutes} + pipeline-py's lock wait ${limits.lockSeconds}s + timeout " +
        "${limits.deploySeconds}s + rollback_timeout ${limits.rollbackSeconds}s + ${ROLLBACK_MARGIN_SECONDS}s"
    if (limits.gateMinutes) {
        line += "; promotion gate ${limits.gateMinutes} min and the promote's bound again"
    }
    return line.toString()
}

/** The options of the deploy that its promote or abort takes too (bounds, lock wait, report directory). */
@NonCPS
static Map gateOptions(Map deployArgs, Map limits) {
    Map out = [:]
    for (String key : ['timeout', 'pollInterval', 'rollbackTimeout', 'waitForLock', 'reportDir']) {
        if (deployArgs[key] != null) {
            out[key] = deployArgs[key]
        }
    }
    out.putAll((Map) limits.deployOptions)
    return out
}

/** The promotion input's message: where the deploy paused, until when, and what a timeout does. */
@NonCPS
static String promotionMessage(Map cfg, String target, Object image, Map deployed, int gateMinutes) {
    Map paused = deployed.paused instanceof Map ? (Map) deployed.paused : [:]
    String strategy = deployed.strategy ?: 'the'
    String where = paused.stage ? " at ${paused.stage}" : ''
    String weight = paused.weight != null ? "${paused.weight}%" : 'part'
    String msg = "Promote ${cfg.service} ${image} on ${target}?\nThe ${strategy} deploy is paused${where} " +
        "with ${weight} of production traffic on the new revision."
    if (paused.expires_at) {
        msg += "\nECS rolls it back at ${paused.expires_at} unless it is promoted (native.gate_timeout_minutes)."
    }
    msg += "\nWithout an answer within ${gateMinutes} min the deploy is aborted and rolled back."
    return msg.toString()
}

/** A plain list of the keys: CPS code loops over it by index (a Map iterator is not serializable). */
@NonCPS
static List keysOf(Map m) {
    return m.keySet().collect { Object k -> k.toString() }
}

@NonCPS
static Object firstOf(Object list) {
    return list instanceof List && list ? list[0] : null
}

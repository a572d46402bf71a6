// A complete declarative pipeline for a service in a multibranch project:
//
//   pull requests and other branches  checks, build the image, render, terraform plan
//   the staging branch (develop)       ... push, apply the plan and deploy to staging
//   the production branch (main)       ... push, approval (input with submitter), apply and deploy
//                                      to prod under lock("<service>-<env>") and milestones
//   tags (TAG_NAME)                    ... promoted to prod the same way (promoteTags)
//
// Before a deploy, automatic gates check what a machine can check: the checks passed (and no
// test report made the build UNSTABLE), a pushed image digest exists, the plan was reviewed (the
// approval shows its summary), no configured alarm is in ALARM, and for prod an RDS snapshot.
import groovy.transform.Field

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
    rdsSnapshot: null,            // DB instance to snapshot before a prod deploy
    imageTags: [],                // extra image tags
    pipelinePySource: null,       // install source for pipeline-py (default $PIPELINE_PY_SOURCE / pypi)
    stageTimeoutMinutes: 30,
    deployTimeoutMinutes: 120,
    approvalTimeoutHours: 24,
]

// ecsDeploy parameters that stagingDeploy/prodDeploy may set.
@Field static final List DEPLOY_KEYS = ['strategy', 'vars', 'timeout', 'pollInterval', 'rollbackTimeout', 'desiredCount',
                                        'forceNewDeployment', 'pauseAt', 'rolling', 'canary', 'linear', 'blueGreen']

@Field static final String PLAN_STASH = 'pipeline-py-terraform-plan'

def call(Map args = [:]) {
    Map cfg = pipelinePy.configure('ecsPipeline', args, DEFAULTS, ['service'])
    String problem = configProblem(cfg)
    if (problem) {
        error(problem)
    }
    Map flow = flowFor([CHANGE_ID: env.CHANGE_ID, TAG_NAME: env.TAG_NAME, BRANCH_NAME: env.BRANCH_NAME], cfg)
    if (flow.deployEnv && cfg.requireChecks && !cfg.checks) {
        error("ecsPipeline: checks is empty, so nothing would be tested before deploying to ${flow.deployEnv} " +
            "(set checks, or requireChecks: false)")
    }
    echo("ecsPipeline: ${describeFlow(flow)}")
    Map state = [checksPassed: false, image: null, plan: null, planChanges: false, approver: null]

    pipeline {
        agent none
        options {
            disableConcurrentBuilds()
            buildDiscarder(logRotator(numToKeepStr: '50', artifactNumToKeepStr: '20'))
        }
        stages {
            stage('Checks') {
                when {
                    beforeAgent true
                    expression { cfg.checks as boolean }
                }
                agent { label cfg.agentLabel }
                options { timeout(time: cfg.stageTimeoutMinutes, unit: 'MINUTES') }
                steps {
                    script { runChecks(cfg, state) }
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
                options { timeout(time: cfg.stageTimeoutMinutes, unit: 'MINUTES') }
                steps {
                    script { buildAndPush(cfg, flow, state) }
                }
            }
            stage('Render task definition') {
                agent { label cfg.agentLabel }
                options { timeout(time: cfg.stageTimeoutMinutes, unit: 'MINUTES') }
                steps {
                    script {
                        dir(cfg.appDir) {
                            renderTaskDefinition(common(cfg, flow.planEnv, flow.planCredentialsId) +
                                [image: state.image, diff: flow.planCredentialsId != null || flow.deployEnv != null,
                                 report: true])
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
                options { timeout(time: cfg.stageTimeoutMinutes, unit: 'MINUTES') }
                steps {
                    script { plan(cfg, flow, state) }
                }
            }
            stage('Deploy staging') {
                when {
                    beforeAgent true
                    expression { flow.deployEnv == cfg.stagingEnv }
                }
                agent { label cfg.agentLabel }
                options { timeout(time: cfg.deployTimeoutMinutes, unit: 'MINUTES') }
                steps {
                    script { deploy(cfg, flow, state, 20) }
                }
            }
            stage('Approve production') {
                when {
                    beforeAgent true
                    expression { flow.approval }
                }
                agent none
                options { timeout(time: cfg.approvalTimeoutHours, unit: 'HOURS') }
                steps {
                    script { approve(cfg, flow, state) }
                }
            }
            stage('Deploy production') {
                when {
                    beforeAgent true
                    expression { flow.approval }
                }
                agent { label cfg.agentLabel }
                options { timeout(time: cfg.deployTimeoutMinutes, unit: 'MINUTES') }
                steps {
                    script { deploy(cfg, flow, state, 40) }
                }
            }
        }
        post {
            unsuccessful {
                echo("ecsPipeline: ${cfg.service} ${currentBuild.currentResult}; the pipeline-py reports are in the build artifacts")
            }
        }
    }
}

void runChecks(Map cfg, Map state) {
    List names = keysOf(cfg.checks)
    for (int i = 0; i < names.size(); i++) {
        Closure body = (Closure) cfg.checks[names[i]]
        stage(names[i]) {
            body.call()
        }
    }
    state.checksPassed = true
}

void buildAndPush(Map cfg, Map flow, Map state) {
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

void plan(Map cfg, Map flow, Map state) {
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

void approve(Map cfg, Map flow, Map state) {
    String gate = gateProblem(cfg, flow, state, currentBuild.currentResult)
    if (gate) {
        error(gate)
    }
    String planLine = null
    int destroys = 0
    if (state.plan != null) {
        planLine = terraformPlan.summaryLine(state.plan.summary)
        destroys = terraformPlan.count(state.plan.summary, 'destroy') + terraformPlan.count(state.plan.summary, 'replace')
    }
    milestone(ordinal: 30, label: "approval for ${flow.deployEnv} requested")
    state.approver = input(message: approvalMessage(cfg, flow, state, planLine, destroys), ok: "Deploy to ${flow.deployEnv}",
        submitter: cfg.prodSubmitter, submitterParameter: 'APPROVER')
    milestone(ordinal: 35, label: "deploy to ${flow.deployEnv} approved")
    echo("ecsPipeline: ${flow.deployEnv} deploy approved by ${state.approver}")
}

/** Gates, then under the environment's lock: milestone, preflight, terraform apply, deploy. */
void deploy(Map cfg, Map flow, Map state, int milestoneOrdinal) {
    String target = flow.deployEnv
    String gate = gateProblem(cfg, flow, state, currentBuild.currentResult)
    if (gate) {
        error(gate)
    }
    Map base = common(cfg, target, flow.deployCredentialsId)
    Map deployArgs = target == cfg.prodEnv ? cfg.prodDeploy : cfg.stagingDeploy
    lock(resource: "${cfg.service}-${target}", inversePrecedence: true) {
        milestone(ordinal: milestoneOrdinal, label: "deploying to ${target}")
        dir(cfg.appDir) {
            String snapshot = target == cfg.prodEnv ? cfg.rdsSnapshot : null
            if (cfg.checkAlarms || snapshot) {
                pipelinePy(base + [command: 'jenkins preflight', report: "preflight-${target}.json",
                                   params: ['skip-alarms': cfg.checkAlarms ? null : true, 'rds-snapshot': snapshot]])
            }
            if (state.planChanges) {
                unstash(PLAN_STASH)
                terraformApply(base + [planFile: state.planFile])
            }
            ecsDeploy(base + [image: state.image] + deployArgs)
        }
    }
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
        name               : e.CHANGE_ID ? "pull request ${e.CHANGE_ID}" : e.TAG_NAME ? "tag ${e.TAG_NAME}" : "branch ${e.BRANCH_NAME}",
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
    return "${flow.name}: ${parts.findAll { it }.join(', ')}".toString()
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
        List unknown = d.keySet().findAll { !(it in DEPLOY_KEYS) }.collect { it.toString() }
        if (unknown) {
            return "ecsPipeline: ${which} has unknown ecsDeploy parameter '${unknown[0]}' (allowed: ${DEPLOY_KEYS.join(', ')})".toString()
        }
    }
    for (String key : ['stageTimeoutMinutes', 'deployTimeoutMinutes', 'approvalTimeoutHours']) {
        if (cfg[key] <= 0) {
            return "ecsPipeline: ${key} must be positive, got ${cfg[key]}".toString()
        }
    }
    return null
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
        String commit = e.GIT_COMMIT.toString()
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

/** A plain list of the keys: CPS code loops over it by index (a Map iterator is not serializable). */
@NonCPS
static List keysOf(Map m) {
    return m.keySet().collect { it.toString() }
}

@NonCPS
static Object firstOf(Object list) {
    return list instanceof List && list ? list[0] : null
}

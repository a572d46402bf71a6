/**
 * What ecsPipeline's ordering claims mean with several builds at once (FakeJenkins: the queue,
 * per-job milestones, lock with inversePrecedence, input). Issue A.2: with
 * disableConcurrentBuilds() a prod build waiting for approval queued every newer build of its
 * branch, so the milestones never cancelled anything; and milestones order builds of one job only.
 */
class ConcurrentBuildsTest {
    static final String DIGEST = '123456789012.dkr.ecr.us-east-1.amazonaws.com/task-api@sha256:' + ('cd' * 32)

    FakeJenkins jenkins = new FakeJenkins()
    /** job id -> the deploys it ran, in the order they happened (across builds). */
    List<String> deploys = []
    /** Deploys that wait (hold the lock) until released: build id -> release flag. */
    Map<String, Boolean> longDeploys = [:]

    Map args() {
        return [
            service             : 'task-api',
            checks              : [Unit: { -> }],
            stagingCredentialsId: 'aws-staging',
            prodCredentialsId   : 'aws-prod',
            prodSubmitter       : 'release-managers',
            terraform           : false,
        ]
    }

    FakeRun start(String job, Map env) {
        return jenkins.start(job, env) { PipelineHarness h ->
            h.awsCredential('aws-staging')
            h.awsCredential('aws-prod')
            h.fakePipelinePy { String cmd, Map p, Map e ->
                if (cmd == 'push') {
                    return [image: DIGEST]
                }
                if (cmd == 'deploy') {
                    String id = h.build.id
                    if (longDeploys.containsKey(id)) {
                        jenkins.await(h.build, 'deploying') { longDeploys[id] }
                    }
                    deploys << id
                    return [status: 'succeeded', strategy: 'rolling']
                }
                return [status: 'ok', image_id: 'sha256:1', tags: ['x'], references: ['task-api:x']]
            }
            h.vars.ecsPipeline.call(args())
        }
    }

    void cleanup() {
        jenkins.shutdown()
        jenkins.builds.each { assert it.error == null || it.error instanceof org.jenkinsci.plugins.workflow.steps.FlowInterruptedException: "${it.id}: ${it.error}" }
    }

    void testANewerBuildOfMainIsNotQueuedBehindAnOlderOneWaitingForApproval() {
        try {
            FakeRun first = start('task-api/main', [BRANCH_NAME: 'main'])
            jenkins.settle()
            assert jenkins.pendingInput(first.id)
            FakeRun second = start('task-api/main', [BRANCH_NAME: 'main'])
            jenkins.settle()
            // with disableConcurrentBuilds() #2 would sit in the queue for up to approvalTimeoutHours
            assert second.status == 'waiting' && jenkins.pendingInput(second.id): "${jenkins.builds}\n${jenkins.events.join('\n')}"
        } finally {
            cleanup()
        }
    }

    void testApprovingTheNewerBuildCancelsTheOlderOne() {
        try {
            FakeRun first = start('task-api/main', [BRANCH_NAME: 'main'])
            jenkins.settle()
            FakeRun second = start('task-api/main', [BRANCH_NAME: 'main'])
            jenkins.settle()
            jenkins.approve(second.id, 'alice')
            assert second.status == 'done' && second.result == 'SUCCESS'
            // #2 passed milestone 35 while #1 was still at 30: #1 is aborted and never deploys
            assert first.status == 'done' && first.result == 'ABORTED'
            assert first.interruptions == ['Superseded by task-api/main#2']
            assert deploys == ['task-api/main#2']
            assert first.h.declarative.stage('Approve production').status == 'aborted'
        } finally {
            cleanup()
        }
    }

    void testApprovalsInBuildOrderDeployInBuildOrder() {
        try {
            FakeRun first = start('task-api/main', [BRANCH_NAME: 'main'])
            jenkins.settle()
            FakeRun second = start('task-api/main', [BRANCH_NAME: 'main'])
            jenkins.settle()
            jenkins.approve(first.id, 'alice')
            jenkins.approve(second.id, 'bob')
            assert [first, second]*.result == ['SUCCESS', 'SUCCESS']
            assert deploys == ['task-api/main#1', 'task-api/main#2']
        } finally {
            cleanup()
        }
    }

    /** The lock hands over to the newest waiting build, whose milestone then cancels the ones it overtook. */
    void testTheNewestBuildWaitingForTheLockDeploysAndTheOnesItOvertookAreCancelled() {
        try {
            longDeploys['task-api/develop#1'] = false
            FakeRun first = start('task-api/develop', [BRANCH_NAME: 'develop'])
            jenkins.settle()
            assert first.waitingFor == 'deploying'
            FakeRun second = start('task-api/develop', [BRANCH_NAME: 'develop'])
            jenkins.settle()
            FakeRun third = start('task-api/develop', [BRANCH_NAME: 'develop'])
            jenkins.settle()
            assert second.waitingFor == 'lock task-api-staging' && third.waitingFor == 'lock task-api-staging'
            longDeploys['task-api/develop#1'] = true
            jenkins.settle()
            assert deploys == ['task-api/develop#1', 'task-api/develop#3']
            assert second.result == 'ABORTED' && second.interruptions == ['Superseded by task-api/develop#3']
            assert third.result == 'SUCCESS'
        } finally {
            cleanup()
        }
    }

    /**
     * Milestones are per job: a tag promotion and main are different jobs of the multibranch
     * project, so neither cancels the other; only the lock serialises their deploys, and the one
     * approved last deploys last even when it carries the older commit (docs/jenkins.md).
     */
    void testMilestonesDoNotOrderBuildsOfDifferentJobsOnlyTheLockSerialisesThem() {
        try {
            FakeRun main = start('task-api/main', [BRANCH_NAME: 'main'])
            jenkins.settle()
            FakeRun tag = start('task-api/v1.4.0', [BRANCH_NAME: 'v1.4.0', TAG_NAME: 'v1.4.0'])
            jenkins.settle()
            jenkins.approve(tag.id, 'alice')
            jenkins.approve(main.id, 'bob')
            assert [main, tag]*.result == ['SUCCESS', 'SUCCESS']
            assert main.interruptions == [] && tag.interruptions == []
            assert deploys == ['task-api/v1.4.0#1', 'task-api/main#1']
            assert jenkins.events.findAll { it.contains('locked task-api-prod') || it.contains('released task-api-prod') } ==
                ['task-api/v1.4.0#1 locked task-api-prod', 'task-api/v1.4.0#1 released task-api-prod',
                 'task-api/main#1 locked task-api-prod', 'task-api/main#1 released task-api-prod']
        } finally {
            cleanup()
        }
    }

    /** What disableConcurrentBuilds() did: the model queues a newer build while one of the job runs. */
    void testTheQueueModelHoldsANewerBuildWhileTheJobDisallowsConcurrentBuilds() {
        try {
            Closure body = { PipelineHarness h ->
                h.dispatch('pipeline', [{
                    options { disableConcurrentBuilds() }
                    stages { stage('Wait') { steps { script { h.dispatch('input', [[message: 'go?']] as Object[]) } } } }
                }] as Object[])
            }
            FakeRun first = jenkins.start('other/main', [BRANCH_NAME: 'main'], body)
            jenkins.settle()
            FakeRun second = jenkins.start('other/main', [BRANCH_NAME: 'main'], body)
            jenkins.settle()
            assert first.status == 'waiting' && second.status == 'queued'
            jenkins.approve(first.id, 'alice')
            assert first.status == 'done' && second.status == 'waiting'
        } finally {
            cleanup()
        }
    }
}

/** vars/pushImage.groovy: Pushes the image (pipeline-py push). */
class PushImageTest extends StepTestSupport {
    static final String DIGEST = 'acct.dkr.ecr.eu-west-1.amazonaws.com/task-api@sha256:' + ('0f' * 32)

    String step() {
        return 'pushImage'
    }

    Map minimal() {
        return [:]
    }

    String command() {
        return 'push'
    }

    void testPassesTheCommonParametersAndCredentialThrough() {
        checkCommonParametersAndCredentialPassThrough()
    }

    void testRejectsUnknownParametersBeforeTouchingTheAgent() {
        checkUnknownParametersAreRejectedBeforeTheAgentIsTouched()
    }

    void testPushImageReturnsTheDigestReference() {
        responses.push = [image: DIGEST, tags_pushed: ['git-abc']]
        Map r = h.vars.pushImage.call(tags: ['git-abc'])
        assert r.image == DIGEST
        assert runOf('push').params == [tag: ['git-abc']]
        assert h.log.contains("pushImage: ${DIGEST}".toString())
    }
}

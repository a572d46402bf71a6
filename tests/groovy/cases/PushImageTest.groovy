/** vars/pushImage.groovy: Pushes the image (pipeline-py push). */
class PushImageTest extends StepTestSupport {
    PushImageTest() {
        super('pushImage', [:], 'push')
    }

    void testPushImageReturnsTheDigestReference() {
        responses.push = [image: DIGEST, tags_pushed: ['git-abc']]
        Map r = h.vars.pushImage.call(tags: ['git-abc'])
        assert r.image == DIGEST
        assert runOf('push').params == [tag: ['git-abc']]
        assert h.log.contains("pushImage: ${DIGEST}".toString())
    }
}

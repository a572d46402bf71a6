/** vars/buildImage.groovy: Builds the image (pipeline-py build). */
class BuildImageTest extends StepTestSupport {
    BuildImageTest() {
        super('buildImage', [:], 'build')
    }

    void testBuildImageHandsOverItsOptions() {
        responses.build = [image_id: 'sha256:1', tags: ['task-api:git-abc'], references: ['task-api:git-abc']]
        Map r = h.vars.buildImage.call(tags: ['git-abc', 'v1'], buildArgs: [VERSION: '1.2', GIT_SHA: 'abc'],
            target: 'runtime', platform: 'linux/arm64', cacheFrom: ['task-api:cache'], noCache: true)
        assert r.references == ['task-api:git-abc']
        assert runOf('build').params == [tag: ['git-abc', 'v1'], 'build-arg': [VERSION: '1.2', GIT_SHA: 'abc'],
                                         target: 'runtime', platform: 'linux/arm64', 'cache-from': ['task-api:cache'],
                                         'no-cache': true]
    }

    void testBuildImageDefaultsHandOverNothing() {
        h.vars.buildImage.call()
        assert runOf('build').params == [:]
        Map r = attempt([tags: 'latest'])
        assert r.error == "buildImage: parameter 'tags' must be a list, got String"
    }

    /** Issue 14: a wrongly typed value may be a secret pasted into the wrong parameter: never echo it. */
    void testAWronglyTypedValueIsNamedByTypeNotValue() {
        checkAWronglyTypedValueIsNotEchoed('buildArgs', 'NPM_TOKEN=npm_s3cr3tT0ken', 'a map')
        checkAWronglyTypedValueIsNotEchoed('noCache', 'ghp_s3cr3t', 'true or false')
        checkAWronglyTypedValueIsNotEchoed('tags', "token-${'x' * 3}", 'a list')
    }
}

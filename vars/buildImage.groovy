// Builds the service's container image on the agent (pipeline-py build: docker build, labels, tags).
Map call(Map args = [:]) {
    Map defaults = pipelinePy.commonDefaults() + [
        tags: [],          // extra tags besides the ones pipeline-py derives (commit, branch)
        buildArgs: [:],    // docker build arguments: [NAME: 'value']
        target: null,      // multi-stage build target
        platform: null,    // e.g. 'linux/arm64'
        cacheFrom: [],     // image references to use as build cache
        noCache: false,    // build without the layer cache
    ]
    Map opts = pipelinePy.configure('buildImage', args, defaults)
    Map result = pipelinePy.run('build', opts, [
        tag        : opts.tags ?: null,
        'build-arg': opts.buildArgs ?: null,
        target     : opts.target,
        platform   : opts.platform,
        'cache-from': opts.cacheFrom ?: null,
        'no-cache' : opts.noCache ? true : null,
    ])
    echo("buildImage: built ${result.image_id ?: 'an image'} tagged ${(result.tags ?: []).join(', ')}")
    return result
}

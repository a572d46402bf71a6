// Pushes the built image to ECR (creating the repository if needed) and returns its digest reference.
Map call(Map args = [:]) {
    Map defaults = pipelinePy.commonDefaults() + [
        tags: [],          // tags to push (default: the ones the build made)
    ]
    Map opts = pipelinePy.configure('pushImage', args, defaults)
    Map result = pipelinePy.run('push', opts, [tag: opts.tags ?: null])
    echo("pushImage: ${result.image ?: result.digest ?: 'pushed'}")
    return result
}

/** One build run by a FakeJenkins. */
class FakeRun {
    String job
    int number
    Map env
    Closure body
    PipelineHarness h
    Thread thread
    String status = 'queued'
    String waitingFor
    Closure ready
    String interrupt
    List<String> interruptions = []
    Throwable error

    String getId() {
        return "${job}#${number}".toString()
    }

    String getResult() {
        return h.currentBuild.currentResult
    }

    String toString() {
        return "${id} ${status}${waitingFor ? ' (' + waitingFor + ')' : ''}"
    }
}

/** `currentBuild`: the RunWrapper properties and methods the library uses. */
class FakeBuild {
    static final List ORDER = ['SUCCESS', 'UNSTABLE', 'FAILURE', 'NOT_BUILT', 'ABORTED']

    String result
    String description
    String displayName = '#42'
    int number = 42
    String projectName = 'task-api'
    String absoluteUrl = 'https://jenkins.example.com/job/apps/job/task-api/job/main/42/'

    String getCurrentResult() {
        return result ?: 'SUCCESS'
    }

    boolean resultIsBetterOrEqualTo(String other) {
        return ORDER.indexOf(getCurrentResult()) <= ORDER.indexOf(other)
    }

    boolean resultIsWorseOrEqualTo(String other) {
        return ORDER.indexOf(getCurrentResult()) >= ORDER.indexOf(other)
    }

    /** Jenkins only ever makes a result worse. */
    void setResult(String value) {
        if (result == null || ORDER.indexOf(value) > ORDER.indexOf(result)) {
            result = value
        }
    }
}

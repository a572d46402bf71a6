/** Records method calls (options, agent { }, parameters) and assignments (environment { X = 1 }). */
class DslRecorder {
    List<Map> calls = []
    Map assignments = [:]

    def methodMissing(String name, Object args) {
        Map call = [name: name, args: args as List]
        calls << call
        return call
    }

    def propertyMissing(String name, Object value) {
        assignments[name] = value
    }
}

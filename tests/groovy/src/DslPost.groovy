/** A declarative `post { }` section: condition name -> block. */
class DslPost {
    static final List CONDITIONS = ['always', 'changed', 'fixed', 'regression', 'aborted', 'failure',
                                    'success', 'unstable', 'unsuccessful', 'cleanup']

    Map<String, Closure> blocks = [:]

    def methodMissing(String name, Object args) {
        if (!(name in CONDITIONS)) {
            throw new AssertionError("unknown post condition '${name}'")
        }
        blocks[name] = (Closure) ((Object[]) args)[0]
    }
}

import org.jenkinsci.plugins.workflow.steps.FlowInterruptedException

/**
 * Several builds of one or more jobs at once, enough to test what only concurrency shows:
 * the queue (a job with disableConcurrentBuilds() queues a newer build while one runs), per-job
 * milestones (pipeline-milestone-step's rules), lock with inversePrecedence (lockable-resources)
 * and input waiting for a person. Each build runs in its own thread with its own
 * PipelineHarness; like CPS, only one build's Groovy runs at a time: a build runs until it waits
 * (input, lock) or ends, and the test drives time with settle(), approve(), reject(), abort().
 *
 * Milestone rules, as the plugin documents and implements them (per job, by build number):
 * a started build is recorded without a milestone; when build N passes ordinal O, every older
 * build whose last milestone is none or lower than O is cancelled, and N itself is cancelled if a
 * newer build already passed O; when a build ends after passing milestone L, every older build
 * still at none or at most L is cancelled.
 */
class FakeJenkins {
    static final long SETTLE_TIMEOUT_MS = 10000

    final Object monitor = new Object()
    final Map<String, Map> jobs = [:]
    final List<FakeRun> builds = []
    final Map<String, Map> resources = [:]
    final List<Map> inputs = []
    final List<String> events = []
    private FakeRun active

    Map job(String name) {
        if (!jobs.containsKey(name)) {
            jobs[name] = [concurrent: true, next: 1, milestones: new TreeMap<Integer, Integer>()]
        }
        return jobs[name]
    }

    /**
     * Queues a build of a job. body(PipelineHarness) sets up the fakes and runs the pipeline,
     * e.g. `{ h -> h.vars.ecsPipeline.call(args) }`. It starts at the next settle().
     */
    FakeRun start(String jobName, Map env, Closure body) {
        synchronized (monitor) {
            Map j = job(jobName)
            FakeRun b = new FakeRun(job: jobName, number: (int) j.next, env: env, body: body)
            j.next = (int) j.next + 1
            builds << b
            events << "${b.id} queued".toString()
            return b
        }
    }

    FakeRun build(String id) {
        return builds.find { it.id == id }
    }

    /** Declarative sets job properties when its pipeline runs, as Jenkins does. */
    void setConcurrentBuilds(FakeRun b, boolean allowed) {
        synchronized (monitor) {
            job(b.job).concurrent = allowed
        }
    }

    private boolean startable(FakeRun b) {
        Map j = job(b.job)
        if (j.concurrent) {
            return true
        }
        return !builds.any { it.job == b.job && it != b && it.status in ['starting', 'running', 'waiting'] }
    }

    private void launch(FakeRun b) {
        b.status = 'starting'
        b.h = new PipelineHarness([BUILD_NUMBER: b.number.toString(), JOB_NAME: b.job] + b.env)
        b.h.currentBuild.number = b.number
        b.h.jenkins = this
        b.h.build = b
        job(b.job).milestones[b.number] = null
        events << "${b.id} started".toString()
        b.thread = Thread.start("build ${b.id}") {
            acquire(b)
            try {
                b.body.call(b.h)
            } catch (Throwable e) {
                b.error = e
            } finally {
                finish(b)
            }
        }
    }

    private void acquire(FakeRun b) {
        synchronized (monitor) {
            while (active != null) {
                monitor.wait(20)
            }
            active = b
            b.status = 'running'
        }
    }

    private void finish(FakeRun b) {
        synchronized (monitor) {
            b.status = 'done'
            events << "${b.id} finished ${b.h.currentBuild.currentResult}".toString()
            Map ms = job(b.job).milestones
            Integer last = ms.remove(b.number)
            if (last != null) {
                cancelOlder(b, last + 1)
            }
            active = null
            monitor.notifyAll()
        }
    }

    /** Waits (releasing the build's turn) until ready() holds or the build is interrupted. */
    void await(FakeRun b, String what, Closure<Boolean> ready) {
        synchronized (monitor) {
            b.status = 'waiting'
            b.waitingFor = what
            b.ready = ready
            active = null
            monitor.notifyAll()
            while (b.interrupt == null && !ready.call()) {
                monitor.wait(20)
            }
            while (active != null) {
                monitor.wait(20)
            }
            active = b
            b.status = 'running'
            b.waitingFor = null
            b.ready = null
        }
        checkInterrupt(b)
    }

    /** Delivers a pending cancellation or abort, once: afterwards steps run again (post blocks). */
    void checkInterrupt(FakeRun b) {
        String why = null
        synchronized (monitor) {
            why = b.interrupt
            b.interrupt = null
        }
        if (why != null) {
            throw new FlowInterruptedException(why)
        }
    }

    private void cancel(String jobName, int number, String why) {
        FakeRun b = builds.find { it.job == jobName && it.number == number }
        if (b != null && b.status != 'done' && !(why in b.interruptions)) {
            b.interrupt = why
            b.interruptions << why
            events << "${b.id} cancelled: ${why}".toString()
            monitor.notifyAll()
        }
    }

    private void cancelOlder(FakeRun b, int ordinal) {
        job(b.job).milestones.each { Integer n, Integer o ->
            if (n < b.number && (o == null || o < ordinal)) {
                cancel(b.job, n, "Superseded by ${b.id}".toString())
            }
        }
    }

    // ---- the steps, for builds run by this Jenkins -----------------------------------------

    void milestone(FakeRun b, int ordinal) {
        boolean overtaken = false
        synchronized (monitor) {
            Map<Integer, Integer> ms = job(b.job).milestones
            ms[b.number] = ordinal
            events << "${b.id} passed milestone ${ordinal}".toString()
            cancelOlder(b, ordinal)
            overtaken = ms.any { Integer n, Integer o -> n > b.number && o != null && o >= ordinal }
        }
        if (overtaken) {
            throw new FlowInterruptedException("Superseded by a newer build of ${b.job}")
        }
    }

    Object input(FakeRun b, Map args) {
        Map req = [build: b, args: args, answer: null]
        synchronized (monitor) {
            inputs << req
            events << "${b.id} waiting for input".toString()
        }
        try {
            await(b, 'input', { req.answer != null })
        } finally {
            synchronized (monitor) {
                inputs.remove(req)
            }
        }
        if (req.answer.rejectedBy) {
            throw new FlowInterruptedException("Rejected by ${req.answer.rejectedBy}")
        }
        return req.answer.approver
    }

    Object lock(FakeRun b, String resource, boolean inversePrecedence, Closure body) {
        Map r
        Map req = [build: b]
        synchronized (monitor) {
            r = resources[resource]
            if (r == null) {
                r = [owner: null, queue: []]
                resources[resource] = r
            }
            if (r.owner == null) {
                r.owner = b
            } else {
                r.queue << req
                events << "${b.id} waiting for lock ${resource}".toString()
            }
        }
        if (r.owner != b) {
            try {
                await(b, "lock ${resource}", { r.owner == b })
            } catch (Throwable e) {
                synchronized (monitor) {
                    r.queue.remove(req)
                }
                throw e
            }
        }
        synchronized (monitor) {
            events << "${b.id} locked ${resource}".toString()
        }
        try {
            return body.call()
        } finally {
            synchronized (monitor) {
                Map next = null
                if (r.queue) {
                    next = inversePrecedence ? r.queue.max { it.build.number } : r.queue[0]
                    r.queue.remove(next)
                }
                r.owner = next?.build
                events << "${b.id} released ${resource}".toString()
                monitor.notifyAll()
            }
        }
    }

    // ---- the test's side --------------------------------------------------------------------

    /** Starts what can start and runs every build until each one waits, is queued or is done. */
    void settle() {
        long deadline = System.currentTimeMillis() + SETTLE_TIMEOUT_MS
        synchronized (monitor) {
            while (true) {
                builds.findAll { it.status == 'queued' && startable(it) }.each { launch(it) }
                boolean busy = active != null || builds.any {
                    it.status in ['starting', 'running'] ||
                        (it.status == 'waiting' && (it.interrupt != null || it.ready?.call()))
                }
                if (!busy) {
                    return
                }
                if (System.currentTimeMillis() > deadline) {
                    throw new AssertionError("builds did not settle: ${builds}\n${events.join('\n')}")
                }
                monitor.wait(20)
            }
        }
    }

    Map pendingInput(String id) {
        synchronized (monitor) {
            return inputs.find { it.build.id == id }
        }
    }

    void approve(String id, String approver) {
        answer(id, [approver: approver])
    }

    void reject(String id, String who) {
        answer(id, [rejectedBy: who])
    }

    private void answer(String id, Map a) {
        synchronized (monitor) {
            Map req = inputs.find { it.build.id == id }
            assert req: "${id} is not waiting for input: ${builds}"
            req.answer = a
            events << "${id} input answered ${a}".toString()
            monitor.notifyAll()
        }
        settle()
    }

    void abort(String id) {
        synchronized (monitor) {
            cancel(build(id).job, build(id).number, 'Aborted by alice')
        }
        settle()
    }

    /** Ends every build still waiting (so no thread outlives the test). */
    void shutdown() {
        synchronized (monitor) {
            builds.findAll { it.status == 'waiting' }.each { it.interrupt = 'test finished' }
            builds.findAll { it.status == 'queued' }.each { it.status = 'done' }
            monitor.notifyAll()
        }
        settle()
    }
}

package org.jenkinsci.plugins.workflow.libs

import java.lang.annotation.Retention
import java.lang.annotation.RetentionPolicy

/** Stand-in for Jenkins' @Library annotation so a Jenkinsfile compiles with plain Groovy. */
@Retention(RetentionPolicy.SOURCE)
@interface Library {
    String[] value()
    boolean changelog() default true
}

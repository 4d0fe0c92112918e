package runner

import (
	"os/exec"
	"unsafe"

	"golang.org/x/sys/windows"
)

// procGroup is the job object a LocalExecutor command runs in: Windows has
// no process groups to signal, but a job set to kill on close ends every
// process in it when its last handle goes, which is this process's when it
// dies, however it dies. Children of the command join the job too.
type procGroup struct {
	job windows.Handle
}

// newProcGroup creates the job, killing its processes when closed.
func newProcGroup() (*procGroup, error) {
	job, err := windows.CreateJobObject(nil, nil)
	if err != nil {
		return nil, err
	}
	g := &procGroup{job: job}
	if err := g.setLimit(windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE); err != nil {
		windows.CloseHandle(job)
		return nil, err
	}
	return g, nil
}

func (g *procGroup) setLimit(flags uint32) error {
	var info windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
	info.BasicLimitInformation.LimitFlags = flags
	_, err := windows.SetInformationJobObject(g.job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)))
	return err
}

// prepare has nothing to do: a process joins a job once it exists.
func (g *procGroup) prepare(*exec.Cmd) {}

// started puts the running command into the job. What it starts before
// this call (a matter of microseconds) stays outside the job.
func (g *procGroup) started(cmd *exec.Cmd) error {
	h, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(cmd.Process.Pid))
	if err != nil {
		return err
	}
	defer windows.CloseHandle(h)
	return windows.AssignProcessToJobObject(g.job, h)
}

// kill ends every process in the job.
func (g *procGroup) kill() { _ = windows.TerminateJobObject(g.job, 1) }

// end closes the job without killing what the command left running, as on
// Unix: the kill-on-close limit is lifted first.
func (g *procGroup) end() {
	_ = g.setLimit(0)
	_ = windows.CloseHandle(g.job)
}

/**
 * Templates of the built-in Computers. Run-arg names are camelCase:
 * nodes, tasks, tasksPerNode, cpusPerTask, mem, time (falls back to the per-runner `timeout`, in
 * seconds or any duration form), queue/partition (either name works), account, qos, gpus,
 * avoidNodes (array or comma string). The job name, stdout/stderr paths and array range are NOT in
 * the templates: they are given on the submit command line (SubmitOptions), which every scheduler
 * lets override script directives.
 * Fallbacks are links in defaults: `#time:format=time:default={timeout}:optional=true#`.
 */

export const BASH_TEMPLATE = "#!/bin/bash";

export const SLURM_TEMPLATE = `#!/bin/bash
#SBATCH --partition=#partition:default={queue}:optional=true#
#SBATCH --account=#account:optional=true#
#SBATCH --qos=#qos:optional=true#
#SBATCH --nodes=#nodes:format=int:min=1:optional=true#
#SBATCH --ntasks=#tasks:format=int:min=1:optional=true#
#SBATCH --ntasks-per-node=#tasksPerNode:format=int:min=1:optional=true#
#SBATCH --cpus-per-task=#cpusPerTask:format=int:min=1:optional=true#
#SBATCH --mem=#mem:optional=true#
#SBATCH --gpus=#gpus:min=0:optional=true#
#SBATCH --time=#time:format=time:default={timeout}:optional=true#
#SBATCH --exclude=#avoidNodes:format=list:optional=true#`;

/** PBS Pro: one select chunk per node; memory is per chunk too (`mem` as in "4gb"). */
export const PBS_PRO_TEMPLATE = `#!/bin/bash
#PBS -q #queue:default={partition}:optional=true#
#PBS -A #account:optional=true#
#PBS -l select=#nodes:format=int:min=1:default=1#:ncpus=#ncpus:format=int:min=1:default={(tasksPerNode??1)*(cpusPerTask??1)}#:mpiprocs=#tasksPerNode:format=int:min=1:default=1#:ompthreads=#cpusPerTask:format=int:min=1:default=1#
#PBS -l mem=#mem:optional=true#
#PBS -l ngpus=#gpus:format=int:min=0:optional=true#
#PBS -l walltime=#time:format=time:default={timeout}:optional=true#`;

/** Torque: nodes=N:ppn=P (ppn = tasks per node x cpus per task). */
export const PBS_TORQUE_TEMPLATE = `#!/bin/bash
#PBS -q #queue:default={partition}:optional=true#
#PBS -A #account:optional=true#
#PBS -l nodes=#nodes:format=int:min=1:default=1#:ppn=#ppn:format=int:min=1:default={(tasksPerNode??1)*(cpusPerTask??1)}#
#PBS -l mem=#mem:optional=true#
#PBS -l walltime=#time:format=time:default={timeout}:optional=true#`;

/** Grid Engine: slots through a parallel environment (name in run arg `pe`, default "smp"). */
export const SGE_TEMPLATE = `#!/bin/bash
#$ -S /bin/bash
#$ -cwd
#$ -q #queue:default={partition}:optional=true#
#$ -P #account:optional=true#
#$ -pe #pe:default=smp# #slots:format=int:min=1:default={(tasks??1)*(cpusPerTask??1)}#
#$ -l h_vmem=#mem:optional=true#
#$ -l h_rt=#time:format=time:default={timeout}:optional=true#
#$ -l h=!(#avoidNodes:format=list:sep=|:optional=true#)`;

/** LSF: -W takes minutes; memory (-M) in the site's LSF_UNIT_FOR_LIMITS. */
export const LSF_TEMPLATE = `#!/bin/bash
#BSUB -q #queue:default={partition}:optional=true#
#BSUB -P #account:optional=true#
#BSUB -n #tasks:format=int:min=1:optional=true#
#BSUB -R "span[ptile=#tasksPerNode:format=int:min=1:optional=true#]"
#BSUB -M #mem:optional=true#
#BSUB -gpu "num=#gpus:format=int:min=1:optional=true#"
#BSUB -W #time:format=minutes:default={timeout}:optional=true#`;

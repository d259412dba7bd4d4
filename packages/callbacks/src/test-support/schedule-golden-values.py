import math
# Transcribed from torch/optim/lr_scheduler.py (closed forms / get_lr) and keras/src/optimizers/schedules.
def step_lr(t, base, step_size, gamma): return base * gamma ** (t // step_size)
def multistep(t, base, ms, gamma):
    import bisect
    return base * gamma ** bisect.bisect_right(ms, t)
def exp_keras(t, base, rate, steps, stair):
    p = t/steps
    if stair: p = math.floor(p)
    return base * rate ** p
def poly_keras(t, base, steps, end, power, cycle):
    if cycle:
        ds = steps * math.ceil(t/steps) if t>0 else steps
        s = t
        if ds == 0: ds = steps
    else:
        ds = steps; s = min(t, steps)
    return (base-end)*(1-s/ds)**power + end
def cos_torch(t, base, T, eta): return eta + (base-eta)*(1+math.cos(math.pi*t/T))/2
def sgdr(t, base, T0, Tmult, eta):
    if t >= T0:
        if Tmult == 1:
            Tcur = t % T0; Ti = T0
        else:
            n = int(math.log((t / T0 * (Tmult - 1) + 1), Tmult))
            Tcur = t - T0 * (Tmult ** n - 1) / (Tmult - 1)
            Ti = T0 * Tmult ** n
    else:
        Ti = T0; Tcur = t
    return eta + (base-eta)*(1+math.cos(math.pi*Tcur/Ti))/2
def onecycle(step_num, max_lr, total, pct=0.3, strat='cos', div=25., fdiv=1e4, three=False):
    initial = max_lr/div; mn = initial/fdiv
    if three:
        phases=[dict(end=float(pct*total)-1, s=initial, e=max_lr), dict(end=float(2*pct*total)-2, s=max_lr, e=initial), dict(end=total-1, s=initial, e=mn)]
    else:
        phases=[dict(end=float(pct*total)-1, s=initial, e=max_lr), dict(end=total-1, s=max_lr, e=mn)]
    def cos(a,b,p): return b + (a-b)/2.0*(math.cos(math.pi*p)+1)
    def lin(a,b,p): return (b-a)*p + a
    f = cos if strat=='cos' else lin
    start=0
    for i,ph in enumerate(phases):
        if step_num <= ph['end'] or i == len(phases)-1:
            pct_ = (step_num-start)/(ph['end']-start)
            return f(ph['s'], ph['e'], pct_)
        start = ph['end']
def r(xs): return '[' + ', '.join(repr(x) for x in xs) + ']'
print('step', r([step_lr(t, 0.1, 3, 0.5) for t in range(10)]))
print('multistep', r([multistep(t, 0.1, [2,5,7], 0.1) for t in range(9)]))
print('exp', r([exp_keras(t, 0.1, 0.96, 4, False) for t in range(9)]))
print('expstair', r([exp_keras(t, 0.1, 0.96, 4, True) for t in range(9)]))
print('poly', r([poly_keras(t, 0.1, 8, 0.001, 2, False) for t in range(11)]))
print('polycycle', r([poly_keras(t, 0.1, 4, 0.0, 1, True) for t in range(1,11)]))
print('cos', r([cos_torch(min(t,10), 0.1, 10, 0.001) for t in range(13)]))
print('sgdr1', r([sgdr(t, 0.1, 4, 1, 0.0) for t in range(10)]))
print('sgdr2', r([sgdr(t, 0.1, 3, 2, 0.01) for t in range(22)]))
print('onecycle', r([onecycle(t, 0.1, 20) for t in range(20)]))
print('onecycle3lin', r([onecycle(t, 1.0, 20, pct=0.25, strat='linear', three=True) for t in range(20)]))

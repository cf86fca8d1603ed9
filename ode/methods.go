package ode

// The methods. Coefficients are from Hairer, Nørsett & Wanner, "Solving
// Ordinary Differential Equations I" (2nd ed., 1993), the original papers
// cited on each method, and the tables in scipy.integrate (RK45, DOP853).
// Every tableau is checked by the tests: consistency (Validate), the order
// conditions of its solutions, and the empirical convergence order of the
// solution and of the dense output.

// Euler is the explicit Euler method (order 1, fixed step only).
var Euler = &Tableau{
	Name:       "euler",
	Order:      1,
	C:          []float64{0},
	A:          [][]float64{{}},
	B:          []float64{1},
	DenseOrder: 1,
}

// Midpoint is the explicit midpoint rule (order 2, fixed step only).
var Midpoint = &Tableau{
	Name:       "midpoint",
	Order:      2,
	C:          []float64{0, 0.5},
	A:          [][]float64{{}, {0.5}},
	B:          []float64{0, 1},
	DenseOrder: 2,
}

// Heun is Heun's method, the explicit trapezoidal rule (order 2, fixed step
// only).
var Heun = &Tableau{
	Name:       "heun",
	Order:      2,
	C:          []float64{0, 1},
	A:          [][]float64{{}, {1}},
	B:          []float64{0.5, 0.5},
	DenseOrder: 2,
}

// RK4 is the classic fourth-order Runge–Kutta method (fixed step only).
var RK4 = &Tableau{
	Name:       "rk4",
	Order:      4,
	C:          []float64{0, 0.5, 0.5, 1},
	A:          [][]float64{{}, {0.5}, {0, 0.5}, {0, 0, 1}},
	B:          []float64{1.0 / 6, 1.0 / 3, 1.0 / 3, 1.0 / 6},
	DenseOrder: 3,
}

// RK38 is Kutta's 3/8 rule (order 4, fixed step only).
var RK38 = &Tableau{
	Name:       "rk38",
	Order:      4,
	C:          []float64{0, 1.0 / 3, 2.0 / 3, 1},
	A:          [][]float64{{}, {1.0 / 3}, {-1.0 / 3, 1}, {1, -1, 1}},
	B:          []float64{1.0 / 8, 3.0 / 8, 3.0 / 8, 1.0 / 8},
	DenseOrder: 3,
}

// HeunEuler is the Heun–Euler 2(1) pair: Heun's method propagated, the
// Euler step as embedded solution.
var HeunEuler = &Tableau{
	Name:       "heuneuler",
	Order:      2,
	ErrOrder:   1,
	EmbOrder:   1,
	C:          []float64{0, 1},
	A:          [][]float64{{}, {1}},
	B:          []float64{0.5, 0.5},
	BErr:       []float64{-0.5, 0.5},
	DenseOrder: 2,
}

// BogackiShampine is the Bogacki–Shampine 3(2) pair (FSAL), scipy's RK23.
// P. Bogacki, L. F. Shampine, Appl. Math. Lett. 2(4):321–325, 1989.
// Its dense output is the cubic Hermite interpolant.
var BogackiShampine = &Tableau{
	Name:     "bosh3",
	Order:    3,
	ErrOrder: 2,
	EmbOrder: 2,
	C:        []float64{0, 0.5, 0.75, 1},
	A: [][]float64{
		{},
		{0.5},
		{0, 0.75},
		{2.0 / 9, 1.0 / 3, 4.0 / 9},
	},
	B:          []float64{2.0 / 9, 1.0 / 3, 4.0 / 9, 0},
	BErr:       []float64{2.0/9 - 7.0/24, 1.0/3 - 1.0/4, 4.0/9 - 1.0/3, -1.0 / 8},
	FSAL:       true,
	DenseOrder: 3,
}

// Fehlberg45 is the Runge–Kutta–Fehlberg 4(5) pair: the fourth-order
// solution is propagated and the fifth-order one estimates its error.
// E. Fehlberg, NASA TR R-315, 1969.
var Fehlberg45 = &Tableau{
	Name:     "fehlberg45",
	Order:    4,
	ErrOrder: 4,
	EmbOrder: 5,
	C:        []float64{0, 1.0 / 4, 3.0 / 8, 12.0 / 13, 1, 1.0 / 2},
	A: [][]float64{
		{},
		{1.0 / 4},
		{3.0 / 32, 9.0 / 32},
		{1932.0 / 2197, -7200.0 / 2197, 7296.0 / 2197},
		{439.0 / 216, -8, 3680.0 / 513, -845.0 / 4104},
		{-8.0 / 27, 2, -3544.0 / 2565, 1859.0 / 4104, -11.0 / 40},
	},
	B: []float64{25.0 / 216, 0, 1408.0 / 2565, 2197.0 / 4104, -1.0 / 5, 0},
	BErr: []float64{
		25.0/216 - 16.0/135,
		0,
		1408.0/2565 - 6656.0/12825,
		2197.0/4104 - 28561.0/56430,
		-1.0/5 + 9.0/50,
		-2.0 / 55,
	},
	DenseOrder: 3,
}

// CashKarp is the Cash–Karp 4(5) pair: the fourth-order solution is
// propagated and the fifth-order one estimates its error.
// J. R. Cash, A. H. Karp, ACM TOMS 16(3):201–222, 1990.
var CashKarp = &Tableau{
	Name:     "cashkarp",
	Order:    4,
	ErrOrder: 4,
	EmbOrder: 5,
	C:        []float64{0, 1.0 / 5, 3.0 / 10, 3.0 / 5, 1, 7.0 / 8},
	A: [][]float64{
		{},
		{1.0 / 5},
		{3.0 / 40, 9.0 / 40},
		{3.0 / 10, -9.0 / 10, 6.0 / 5},
		{-11.0 / 54, 5.0 / 2, -70.0 / 27, 35.0 / 27},
		{1631.0 / 55296, 175.0 / 512, 575.0 / 13824, 44275.0 / 110592, 253.0 / 4096},
	},
	B: []float64{2825.0 / 27648, 0, 18575.0 / 48384, 13525.0 / 55296, 277.0 / 14336, 1.0 / 4},
	BErr: []float64{
		2825.0/27648 - 37.0/378,
		0,
		18575.0/48384 - 250.0/621,
		13525.0/55296 - 125.0/594,
		277.0 / 14336,
		1.0/4 - 512.0/1771,
	},
	DenseOrder: 3,
}

// DormandPrince5 is the Dormand–Prince 5(4) pair (FSAL), with Shampine's
// free fourth-order dense output; it is scipy's RK45 and MATLAB's ode45.
// J. R. Dormand, P. J. Prince, J. Comput. Appl. Math. 6(1):19–26, 1980;
// L. F. Shampine, Math. Comp. 46(173):135–150, 1986.
var DormandPrince5 = &Tableau{
	Name:     "dopri5",
	Order:    5,
	ErrOrder: 4,
	EmbOrder: 4,
	C:        []float64{0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1},
	A: [][]float64{
		{},
		{1.0 / 5},
		{3.0 / 40, 9.0 / 40},
		{44.0 / 45, -56.0 / 15, 32.0 / 9},
		{19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
		{9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
		{35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84},
	},
	B:    []float64{35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84, 0},
	BErr: []float64{71.0 / 57600, 0, -71.0 / 16695, 71.0 / 1920, -17253.0 / 339200, 22.0 / 525, -1.0 / 40},
	FSAL: true,
	DenseP: [][]float64{
		{1, -8048581381.0 / 2820520608, 8663915743.0 / 2820520608, -12715105075.0 / 11282082432},
		{0, 0, 0, 0},
		{0, 131558114200.0 / 32700410799, -68118460800.0 / 10900136933, 87487479700.0 / 32700410799},
		{0, -1754552775.0 / 470086768, 14199869525.0 / 1410260304, -10690763975.0 / 1880347072},
		{0, 127303824393.0 / 49829197408, -318862633887.0 / 49829197408, 701980252875.0 / 199316789632},
		{0, -282668133.0 / 205662961, 2019193451.0 / 616988883, -1453857185.0 / 822651844},
		{0, 40617522.0 / 29380423, -110615467.0 / 29380423, 69997945.0 / 29380423},
	},
	DenseOrder: 4,
}

// Dopri5 is another name for DormandPrince5.
var Dopri5 = DormandPrince5

// Tsit5 is Tsitouras' 5(4) pair (FSAL) with its fourth-order dense output.
// Ch. Tsitouras, Comput. Math. Appl. 62(2):770–775, 2011. The dense-output
// polynomials are the paper's b_i(θ) expanded in powers of θ.
var Tsit5 = &Tableau{
	Name:     "tsit5",
	Order:    5,
	ErrOrder: 4,
	EmbOrder: 4,
	C:        []float64{0, 0.161, 0.327, 0.9, 0.98002554090450968572981028628702459549421, 1, 1},
	A: [][]float64{
		{},
		{0.161},
		{-0.0084806554923569885444268742502307746751211773934, 0.33548065549235698854442687425023077467512117739343},
		{2.8971530571054934321304325941929387649248872877019, -6.3594484899750748431481599123838256259527006474156, 4.3622954328695814110177273181908868610278133597138},
		{5.3258648284392566044288779208405113178364762530970, -11.748883564062827877747170339785772961887441782599, 7.4955393428898362083046047845643581556586791615182, -0.092495066361755249256502079332071916113499834060295},
		{5.8614554429464200286592514869826478903943376661648, -12.920969317847109291706118681783359395417807519557, 8.1593678985761586431804007945392534851819183211350, -0.071584973281400997224530542525829738691272131473635, -0.028269050394068382909003057212712241467176336268798},
		{0.096460766818065229518167313165128763337119952381580, 0.01, 0.47988965041449957477524953229059651991304046219903, 1.3790085741037418931922748218568727707564626430914, -3.2900695154360806799010475857113638501156832908949, 2.3247105240997739824153559183987657961090602332230},
	},
	B: []float64{0.096460766818065229518167313165128763337119952381580, 0.01, 0.47988965041449957477524953229059651991304046219903, 1.3790085741037418931922748218568727707564626430914, -3.2900695154360806799010475857113638501156832908949, 2.3247105240997739824153559183987657961090602332230, 0},
	BErr: []float64{
		0.096460766818065229518167313165128763337119952381580 - 0.094680755765839458074788762557589228561175273577246,
		0.01 - 0.0091835655403432530967763639366453137598137462409841,
		0.47988965041449957477524953229059651991304046219903 - 0.48777052842476157078556425996312282415166919597614,
		1.3790085741037418931922748218568727707564626430914 - 1.2342975669304789856551096738842376540355399307482,
		-3.2900695154360806799010475857113638501156832908949 + 2.7077123499835254548811099750593216706896051669382,
		2.3247105240997739824153559183987657961090602332230 - 1.8666284181705870357537193995662114986662555052441,
		-1.0 / 66,
	},
	FSAL: true,
	DenseP: [][]float64{
		{1, -2.7637061972748258, 2.9132554618219126, -1.0530884977290216},
		{0, 0.1317, -0.2234, 0.1017},
		{0, 3.9302962368947512, -5.9410338721315048, 2.4906272856512528},
		{0, -12.411077166933676, 30.338188630282318, -16.548102889244902},
		{0, 37.509313416511041, -88.178904894766404, 47.379521962819283},
		{0, -27.896526289197286, 65.091894674793679, -34.870657861496611},
		{0, 1.5, -4, 2.5},
	},
	DenseOrder: 4,
}
